from .catalogue import BackorderPolicy, Product, Variant
from .history import DailyStockSnapshot
from .ledger import MovementKind, MovementSource, ReasonCode, StockMovement
from .levels import ForcedStatus, StockLevel, StockStatus

__all__ = [
    "BackorderPolicy",
    "DailyStockSnapshot",
    "ForcedStatus",
    "MovementKind",
    "MovementSource",
    "Product",
    "ReasonCode",
    "StockLevel",
    "StockMovement",
    "StockStatus",
    "Variant",
]
