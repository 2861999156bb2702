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
from .instructions import deliver_instruction, replay_instruction
from .lanes import create_lane, update_lane
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
from .wms import (
    ReportLine,
    ReportRefused,
    SystemReport,
    apply_system_report,
    save_warehouse_system,
)

__all__ = [
    "BACK_TO_SOURCE",
    "LOST",
    "CreatedTransfer",
    "ReceiptLineInput",
    "ReportLine",
    "ReportRefused",
    "SystemReport",
    "TransferLineInput",
    "apply_system_report",
    "approve_transfer",
    "cancel_transfer",
    "close_transfer_short",
    "create_lane",
    "create_transfer",
    "create_transfer_once",
    "deliver_instruction",
    "edit_draft",
    "pick_transfer",
    "receive_return",
    "receive_transfer",
    "replay_instruction",
    "save_warehouse_system",
    "ship_transfer",
    "update_lane",
]
