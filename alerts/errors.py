"""Domain errors of alerts; each carries a stable code for the API."""

from stock.errors import StockError


class AlertError(StockError):
    code = "alert_error"


class InvalidRule(AlertError):
    code = "invalid_rule"
