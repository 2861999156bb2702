"""Domain errors raised by stock services. Each carries a stable code for the API."""

from dataclasses import dataclass, field


@dataclass
class StockError(Exception):
    message: str
    details: dict = field(default_factory=dict)
    code = "stock_error"

    def __str__(self) -> str:
        return self.message


class InvalidQuantity(StockError):
    code = "invalid_quantity"


class UnknownSku(StockError):
    code = "unknown_sku"


class UnknownWarehouse(StockError):
    code = "unknown_warehouse"


class InactiveWarehouse(StockError):
    code = "inactive_warehouse"


class InsufficientStock(StockError):
    code = "insufficient_stock"


class ConflictExpectedOnHand(StockError):
    code = "conflict_expected_on_hand"


class StockNotManaged(StockError):
    code = "stock_not_managed"


class InvalidReason(StockError):
    code = "invalid_reason"


class DuplicateReference(StockError):
    code = "duplicate_reference"


class UnknownChannel(StockError):
    code = "unknown_channel"


class InvalidOrder(StockError):
    """The order's input is wrong (empty, duplicate line, a SKU the channel cannot sell)."""

    code = "invalid_order"


class NotSellable(StockError):
    code = "not_sellable"


class HoldExpired(StockError):
    code = "hold_expired"


class InvalidOrderState(StockError):
    code = "invalid_order_state"


class InvalidInput(StockError):
    """A code or text a service was given that the ledger cannot hold."""

    code = "invalid_input"
