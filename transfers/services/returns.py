"""Receiving back at the source what a cancellation sent back after shipping.

`cancel_transfer(disposition=back_to_source)` leaves the units inbound at the source,
counted on the line's `returned`. A return receipt lands them there with the semantics of
a receipt at the destination (accepted to on hand, rejected to unsellable or written off),
counted on `return_received`, so `returned = returning + return_received` per line.
"""

from collections.abc import Sequence

from django.db import transaction

from stock.actors import Actor
from stock.services.ledger import LevelChange
from transfers.errors import OverReceipt
from transfers.models import Transfer, TransferReceipt, TransferState

from .common import lines_of, lock_transfer, note, require_state, write
from .receiving import (
    ReceiptLineInput,
    check_receipt,
    existing_receipt,
    line_for,
    receipt_movements,
    save_receipt_lines,
)


def receive_return(
    *,
    transfer: Transfer,
    receipt_reference: str,
    lines: Sequence[ReceiptLineInput],
    actor: Actor,
) -> TransferReceipt:
    """Record one receipt, at the source, of units a cancelled transfer sent back.

    Locks the transfer row, then the source's levels through the ledger. Accepted units
    go from inbound to on hand at the source; rejected ones from inbound to on hand and
    unsellable, or are written off. More than is on its way back is refused
    (OverReceipt): a return is never an over-receipt. The same reference again is the
    same receipt and writes nothing. The transfer stays cancelled; its timeline gets a
    `return_received` entry.
    """
    check_receipt(receipt_reference, lines)
    with transaction.atomic():
        transfer = lock_transfer(transfer)
        existing = existing_receipt(transfer, receipt_reference, is_return=True)
        if existing is not None:
            return existing
        require_state(transfer, "received back at the source", TransferState.CANCELLED)
        by_variant = {line.variant_id: line for line in lines_of(transfer)}
        receipt = TransferReceipt.objects.create(
            transfer=transfer,
            reference=receipt_reference,
            is_return=True,
            actor_label=actor.label,
        )
        changes: list[LevelChange] = []
        for entry in lines:
            line = line_for(transfer, by_variant, entry)
            total = entry.accepted + entry.rejected
            if total > line.returning:
                raise OverReceipt(
                    f"{entry.variant.sku}: {total} received back but only {line.returning} "
                    "on the way back.",
                    {"sku": entry.variant.sku, "returning": line.returning, "received": total},
                )
            line.return_received += total
            changes.extend(
                receipt_movements(
                    transfer,
                    receipt,
                    line,
                    entry,
                    at=transfer.source,
                    transition="receive_return",
                    from_transit=(entry.accepted, entry.rejected),
                )
            )
        write(changes, actor=actor)
        save_receipt_lines(receipt, by_variant, lines)
        note(
            transfer,
            kind="return_received",
            actor=actor,
            receipt=receipt_reference,
            is_complete=all(line.returning == 0 for line in by_variant.values()),
        )
    return receipt
