"""Every write of transfers; each public function is one transaction.

Stock moves only through `stock.services.ledger.apply_changes`, as movements with source
`transfer`, the transfer's reference as their document, and a reference per (transfer,
transition, step, line). See docs/adr/0010-transfers-stock-model.md.
"""

from .documents import TransferLineInput, create_transfer
from .receiving import ReceiptLineInput, close_transfer_short, receive_transfer
from .returns import receive_return
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
    "ReceiptLineInput",
    "TransferLineInput",
    "approve_transfer",
    "cancel_transfer",
    "close_transfer_short",
    "create_transfer",
    "pick_transfer",
    "receive_return",
    "receive_transfer",
    "ship_transfer",
]
