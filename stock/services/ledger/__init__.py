"""The ledger: the one place where balances change and ledger rows are written.

Every public stock service builds `LevelChange`s and hands them to `apply_changes`
(`writes`), which locks the levels (`locks`), checks the rules (`rules`), appends the
ledger rows and updates the balances in one transaction. The two order statements that
change many levels in one go, reserving a planned order and releasing expired holds, run
the set-based writes of `statements`. Every ledger row, whichever writer appends it, takes
its columns and its reference from `rows`.
"""

from .locks import LEVEL_ATTNAMES, ensure_levels, lock_levels
from .rows import QUANTITIES, TRANSFER_REFERENCE, ReferenceFormat
from .rules import MAX_QUANTITY, BatchRejected, ChangeOutcome, LevelChange
from .writes import announce_stock_changes, apply_change, apply_changes, apply_locked

__all__ = [
    "LEVEL_ATTNAMES",
    "MAX_QUANTITY",
    "QUANTITIES",
    "TRANSFER_REFERENCE",
    "BatchRejected",
    "ChangeOutcome",
    "LevelChange",
    "ReferenceFormat",
    "announce_stock_changes",
    "apply_change",
    "apply_changes",
    "apply_locked",
    "ensure_levels",
    "lock_levels",
]
