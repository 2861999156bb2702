"""Domain errors of transfers; each is a `StockError` with a stable code."""

from stock.errors import StockError


class TransferError(StockError):
    code = "transfer_error"


class InvalidTransfer(TransferError):
    """The transfer's input is wrong (same warehouse twice, no lines, a line twice)."""

    code = "invalid_transfer"


class InvalidTransferState(TransferError):
    code = "invalid_transfer_state"


class OverReceipt(TransferError):
    """More units received than are in transit, and the receipt does not say over-receipt."""

    code = "over_receipt"


class InvalidLane(TransferError):
    code = "invalid_lane"


class InvalidWarehouseSystem(TransferError):
    """A warehouse system's settings are wrong (endpoint URL, secret)."""

    code = "invalid_warehouse_system"
