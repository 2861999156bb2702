"""The stock service layer: the only code that changes a balance (see ARCHITECTURE.md)."""

from .catalogue import set_backorder_policy
from .ledger import BatchRejected, ChangeOutcome, LevelChange, apply_change, apply_changes
from .movements import (
    adjust_stock,
    count_stock,
    mark_unsellable,
    receive_stock,
    restore_sellable,
    set_safety_stock,
    write_off_unsellable,
)
from .status import clear_forced_status, force_status

__all__ = [
    "BatchRejected",
    "ChangeOutcome",
    "LevelChange",
    "adjust_stock",
    "apply_change",
    "apply_changes",
    "clear_forced_status",
    "count_stock",
    "force_status",
    "mark_unsellable",
    "receive_stock",
    "restore_sellable",
    "set_backorder_policy",
    "set_safety_stock",
    "write_off_unsellable",
]
