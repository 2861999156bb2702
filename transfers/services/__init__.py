"""Every write of transfers; each public function is one transaction.

Stock moves only through `stock.services.ledger.apply_changes`, as movements with source
`transfer`, the transfer's reference as their document, and a reference per (transfer,
transition, step, line). See docs/adr/0010-transfers-stock-model.md.
"""

from .documents import (
    CreatedTransfer,
    TransferLineInput,
    create_transfer,
    create_transfer_once,
    edit_draft,
)
from .lanes import create_lane, update_lane
from .receiving import ReceiptLineInput, close_transfer_short, receive_transfer
from .transitions import (
    BACK_TO_SOURCE,
    LOST,
    approve_transfer,
    cancel_transfer,
    pick_transfer,
    ship_transfer,
)

__all__ = [
    "BACK_TO_SOURCE",
    "LOST",
    "CreatedTransfer",
    "ReceiptLineInput",
    "TransferLineInput",
    "approve_transfer",
    "cancel_transfer",
    "close_transfer_short",
    "create_lane",
    "create_transfer",
    "create_transfer_once",
    "edit_draft",
    "pick_transfer",
    "receive_transfer",
    "ship_transfer",
    "update_lane",
]
