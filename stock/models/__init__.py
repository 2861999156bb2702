from .catalogue import BackorderPolicy, Product, Variant
from .history import DailyStockSnapshot
from .ledger import MovementKind, MovementSource, ReasonCode, StockMovement
from .levels import ForcedStatus, StockLevel, StockStatus
from .orders import (
    HOLD_EXPIRED_NOTE,
    OPEN_ORDER_STATUSES,
    Allocation,
    Order,
    OrderLine,
    OrderStatus,
)

__all__ = [
    "HOLD_EXPIRED_NOTE",
    "OPEN_ORDER_STATUSES",
    "Allocation",
    "BackorderPolicy",
    "DailyStockSnapshot",
    "ForcedStatus",
    "MovementKind",
    "MovementSource",
    "Order",
    "OrderLine",
    "OrderStatus",
    "Product",
    "ReasonCode",
    "StockLevel",
    "StockMovement",
    "StockStatus",
    "Variant",
]
