"""Receiving a transfer at its destination, and closing it short.

Each is one transaction that locks the transfer row first, then the levels through the
ledger. A receipt is identified by its reference per transfer: the same receipt twice is
one receipt and one set of movements.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction

from stock.actors import Actor
from stock.models import MovementKind, ReasonCode, Variant
from stock.services.ledger import LevelChange
from stock.services.movements import require_quantity, require_reason
from transfers.errors import InvalidTransfer, OverReceipt
from transfers.models import (
    RejectedDisposition,
    RejectionReason,
    Transfer,
    TransferLine,
    TransferReceipt,
    TransferReceiptLine,
    TransferState,
)
from warehouses.models import Warehouse

from .common import (
    lines_of,
    lock_transfer,
    movement,
    record,
    require_state,
    write,
    write_off_in_transit,
)

State = TransferState


@dataclass(frozen=True, slots=True)
class ReceiptLineInput:
    variant: Variant
    accepted: int = 0
    rejected: int = 0
    rejection_reason: str = ""
    rejected_disposition: str = RejectedDisposition.UNSELLABLE


def receive_transfer(
    *,
    transfer: Transfer,
    receipt_reference: str,
    lines: Sequence[ReceiptLineInput],
    actor: Actor,
    over_receipt: bool = False,
) -> TransferReceipt:
    """Record one receipt at the destination.

    Accepted units go from inbound to on hand; rejected ones from inbound to on hand and
    unsellable, or are written off. More than is in transit is refused (OverReceipt)
    unless `over_receipt`. The transfer becomes partially received or received.
    """
    check_receipt(receipt_reference, lines)
    with transaction.atomic():
        transfer = lock_transfer(transfer)
        existing = existing_receipt(transfer, receipt_reference, is_return=False)
        if existing is not None:
            return existing
        require_state(transfer, "received", State.SHIPPED, State.PARTIALLY_RECEIVED)
        by_variant = {line.variant_id: line for line in lines_of(transfer)}
        receipt = TransferReceipt.objects.create(
            transfer=transfer,
            reference=receipt_reference,
            is_over_receipt=over_receipt,
            actor_label=actor.label,
        )
        changes: list[LevelChange] = []
        for entry in lines:
            line = line_for(transfer, by_variant, entry)
            changes.extend(_receive_line(transfer, receipt, line, entry, over_receipt))
        write(changes, actor=actor)
        save_receipt_lines(receipt, by_variant, lines)
        is_complete = all(line.in_transit == 0 for line in by_variant.values())
        record(
            transfer,
            state=State.RECEIVED if is_complete else State.PARTIALLY_RECEIVED,
            kind="received",
            actor=actor,
            receipt=receipt_reference,
        )
    return receipt


def check_receipt(receipt_reference: str, lines: Sequence[ReceiptLineInput]) -> None:
    """A receipt's shape, before anything is locked: its reference and its lines."""
    _check_receipt_lines(lines)
    if not receipt_reference or len(receipt_reference) > 100:
        raise InvalidTransfer(
            "The receipt reference must be 1 to 100 characters.", {"field": "receipt_reference"}
        )


def existing_receipt(
    transfer: Transfer, receipt_reference: str, *, is_return: bool
) -> TransferReceipt | None:
    """The receipt already recorded under this reference (a retry), if it is of the same
    kind; a reference used for a receipt at the other end is refused."""
    existing = TransferReceipt.objects.filter(
        transfer=transfer, reference=receipt_reference
    ).first()
    if existing is not None and existing.is_return != is_return:
        where = "back at the source" if existing.is_return else "at the destination"
        raise InvalidTransfer(
            f"Receipt {receipt_reference} of transfer {transfer.reference} was received {where}.",
            {"field": "receipt_reference"},
        )
    return existing


def line_for(
    transfer: Transfer, by_variant: dict[int, TransferLine], entry: ReceiptLineInput
) -> TransferLine:
    line = by_variant.get(entry.variant.pk)
    if line is None:
        raise InvalidTransfer(
            f"{entry.variant.sku} is not on transfer {transfer.reference}.",
            {"sku": entry.variant.sku},
        )
    return line


def save_receipt_lines(
    receipt: TransferReceipt,
    by_variant: dict[int, TransferLine],
    lines: Sequence[ReceiptLineInput],
) -> None:
    """The receipt's lines, and the counters of the transfer lines they received."""
    TransferReceiptLine.objects.bulk_create(
        TransferReceiptLine(
            receipt=receipt,
            line=by_variant[entry.variant.pk],
            accepted=entry.accepted,
            rejected=entry.rejected,
            rejection_reason=entry.rejection_reason if entry.rejected else "",
            rejected_disposition=entry.rejected_disposition if entry.rejected else "",
        )
        for entry in lines
    )
    for entry in lines:
        by_variant[entry.variant.pk].save(
            update_fields=["accepted", "rejected", "over_received", "return_received"]
        )


def _check_receipt_lines(lines: Sequence[ReceiptLineInput]) -> None:
    if not lines:
        raise InvalidTransfer("A receipt needs at least one line.", {"field": "lines"})
    if len({entry.variant.pk for entry in lines}) != len(lines):
        raise InvalidTransfer("A variant appears on two receipt lines.", {"field": "lines"})
    for entry in lines:
        require_quantity("accepted", entry.accepted, minimum=0)
        require_quantity("rejected", entry.rejected, minimum=0)
        if entry.accepted + entry.rejected == 0:
            raise InvalidTransfer("A receipt line receives at least one unit.", {"field": "lines"})
        if entry.rejected and entry.rejection_reason not in RejectionReason.values:
            raise InvalidTransfer(
                f"Unknown rejection reason {entry.rejection_reason!r}.",
                {"field": "rejection_reason"},
            )
        if entry.rejected and entry.rejected_disposition not in RejectedDisposition.values:
            raise InvalidTransfer(
                f"Unknown disposition {entry.rejected_disposition!r}.",
                {"field": "rejected_disposition"},
            )


def _receive_line(
    transfer: Transfer,
    receipt: TransferReceipt,
    line: TransferLine,
    entry: ReceiptLineInput,
    over_receipt: bool,
) -> list[LevelChange]:
    in_transit = line.in_transit
    total = entry.accepted + entry.rejected
    if total > in_transit and not over_receipt:
        raise OverReceipt(
            f"{entry.variant.sku}: {total} received but only {in_transit} in transit.",
            {"sku": entry.variant.sku, "in_transit": in_transit, "received": total},
        )
    # Units beyond those in transit were never inbound; accepted ones use up transit first.
    from_transit_accepted = min(entry.accepted, in_transit)
    from_transit_rejected = min(entry.rejected, in_transit - from_transit_accepted)
    line.accepted += entry.accepted
    line.rejected += entry.rejected
    line.over_received += total - from_transit_accepted - from_transit_rejected
    return receipt_movements(
        transfer,
        receipt,
        line,
        entry,
        at=transfer.destination,
        transition="receive",
        from_transit=(from_transit_accepted, from_transit_rejected),
    )


def receipt_movements(
    transfer: Transfer,
    receipt: TransferReceipt,
    line: TransferLine,
    entry: ReceiptLineInput,
    *,
    at: Warehouse,
    transition: str,
    from_transit: tuple[int, int],
) -> list[LevelChange]:
    """One receipt line's movements where it lands (`at`): the (accepted, rejected) units
    `from_transit` leave inbound there; accepted units become on hand, rejected ones on
    hand and unsellable, or nothing more when written off."""
    from_transit_accepted, from_transit_rejected = from_transit
    step = f"receipt-{receipt.pk}"
    changes = []
    if entry.accepted:
        changes.append(
            movement(
                transfer,
                line,
                at=at,
                transition=transition,
                step=f"{step}-accepted",
                kind=MovementKind.TRANSFER_IN,
                reason=ReasonCode.TRANSFER,
                delta_inbound=-from_transit_accepted,
                delta_on_hand=entry.accepted,
            )
        )
    if entry.rejected:
        is_kept = entry.rejected_disposition == RejectedDisposition.UNSELLABLE
        changes.append(
            movement(
                transfer,
                line,
                at=at,
                transition=transition,
                step=f"{step}-rejected",
                kind=MovementKind.TRANSFER_IN,
                reason=ReasonCode.DAMAGED if is_kept else ReasonCode.WRITTEN_OFF,
                note=f"rejected: {entry.rejection_reason}",
                delta_inbound=-from_transit_rejected,
                delta_on_hand=entry.rejected if is_kept else 0,
                delta_unsellable=entry.rejected if is_kept else 0,
            )
        )
    return changes


def close_transfer_short(
    *, transfer: Transfer, actor: Actor, reason: str = ReasonCode.LOST, note: str = ""
) -> Transfer:
    """Close a shipped transfer: what is still in transit is written off at the destination
    as lost (inbound minus the remainder), with `reason`."""
    reason = require_reason(reason)
    with transaction.atomic():
        transfer = lock_transfer(transfer)
        if transfer.state == State.CLOSED_SHORT:
            return transfer
        require_state(transfer, "closed short", State.SHIPPED, State.PARTIALLY_RECEIVED)
        write_off_in_transit(
            transfer, transition="close_short", reason=reason, note=note, actor=actor
        )
        record(transfer, state=State.CLOSED_SHORT, kind="closed_short", actor=actor, reason=reason)
    return transfer
