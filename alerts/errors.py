"""Domain errors of alerts; each carries a stable code for the API."""

from stock.errors import StockError


class AlertError(StockError):
    code = "alert_error"


class InvalidRule(AlertError):
    code = "invalid_rule"


class InvalidReceiver(AlertError):
    code = "invalid_receiver"


class InvalidRoute(AlertError):
    code = "invalid_route"


class InvalidSilence(AlertError):
    code = "invalid_silence"


class InvalidEscalationStep(AlertError):
    code = "invalid_escalation_step"


class AlertNotActive(AlertError):
    code = "alert_not_active"
