"""Approving, picking, shipping and cancelling a transfer.

Each is one transaction: the transfer row is locked first, then both ends' levels through
the ledger (ascending primary key). A call that finds the transfer already in the state
it leads to writes nothing and returns it, and every movement's reference is unique per
(transfer, transition, step, line), so a retry never moves stock twice.
"""

from django.db import transaction

from stock.actors import Actor
from stock.models import MovementKind, ReasonCode
from transfers.errors import InvalidTransfer
from transfers.models import Transfer, TransferState

from .common import (
    lines_of,
    lock_transfer,
    movement,
    record,
    require_state,
    write,
    write_off_in_transit,
)
from .instructions import queue_pick_instruction

State = TransferState


def approve_transfer(*, transfer: Transfer, actor: Actor) -> Transfer:
    """Hold every line's units at the source (reserved), never beyond what is available.

    When the source runs its own system, the pick instruction for it is an outbox row
    committed with the approval (delivered after the commit: services/instructions.py).

    Refused (InsufficientStock) when a line would take available below zero, even for a
    variant that allows backorders; then nothing is held.
    """
    with transaction.atomic():
        transfer = lock_transfer(transfer)
        if transfer.state == State.APPROVED:
            return transfer
        require_state(transfer, "approved", State.DRAFT)
        write(
            [
                movement(
                    transfer,
                    line,
                    at=transfer.source,
                    transition="approve",
                    step="hold",
                    kind=MovementKind.RESERVE,
                    reason=ReasonCode.TRANSFER,
                    delta_reserved=line.quantity,
                    allow_backorder=False,
                )
                for line in lines_of(transfer)
            ],
            actor=actor,
        )
        record(transfer, state=State.APPROVED, kind="approved", actor=actor)
        queue_pick_instruction(transfer)
    return transfer


def pick_transfer(*, transfer: Transfer, actor: Actor) -> Transfer:
    """Mark an approved transfer picked: a timeline entry, no stock moves."""
    with transaction.atomic():
        transfer = lock_transfer(transfer)
        if transfer.state == State.PICKED:
            return transfer
        require_state(transfer, "picked", State.APPROVED)
        record(transfer, state=State.PICKED, kind="picked", actor=actor)
    return transfer


def ship_transfer(*, transfer: Transfer, actor: Actor) -> Transfer:
    """The held units leave the source (on hand and reserved down by q) and are inbound at the
    destination (+q), in one ledger batch."""
    with transaction.atomic():
        transfer = lock_transfer(transfer)
        if transfer.state == State.SHIPPED:
            return transfer
        require_state(transfer, "shipped", State.APPROVED, State.PICKED)
        lines = lines_of(transfer)
        changes = []
        for line in lines:
            changes.append(
                movement(
                    transfer,
                    line,
                    at=transfer.source,
                    transition="ship",
                    step="out",
                    kind=MovementKind.TRANSFER_OUT,
                    reason=ReasonCode.TRANSFER,
                    delta_on_hand=-line.quantity,
                    delta_reserved=-line.quantity,
                )
            )
            changes.append(
                movement(
                    transfer,
                    line,
                    at=transfer.destination,
                    transition="ship",
                    step="in",
                    kind=MovementKind.TRANSFER_IN,
                    reason=ReasonCode.TRANSFER,
                    delta_inbound=line.quantity,
                )
            )
        write(changes, actor=actor)
        for line in lines:
            line.shipped = line.quantity
            line.save(update_fields=["shipped"])
        record(transfer, state=State.SHIPPED, kind="shipped", actor=actor)
    return transfer


BACK_TO_SOURCE = "back_to_source"
LOST = "lost"
DISPOSITIONS = (BACK_TO_SOURCE, LOST)


def cancel_transfer(
    *, transfer: Transfer, actor: Actor, disposition: str | None = None, note: str = ""
) -> Transfer:
    """Cancel a transfer.

    Before shipping the hold at the source is released. After shipping, `disposition` says
    where the units still in transit are: `back_to_source` (inbound moves from the
    destination to the source) or `lost` (written off at the destination).
    """
    with transaction.atomic():
        transfer = lock_transfer(transfer)
        if transfer.state == State.CANCELLED:
            return transfer
        require_state(
            transfer,
            "cancelled",
            State.DRAFT,
            State.APPROVED,
            State.PICKED,
            State.SHIPPED,
            State.PARTIALLY_RECEIVED,
        )
        if transfer.state in (State.SHIPPED, State.PARTIALLY_RECEIVED):
            if disposition not in DISPOSITIONS:
                raise InvalidTransfer(
                    "A shipped transfer is cancelled back_to_source or lost.",
                    {"field": "disposition"},
                )
            _cancel_in_transit(transfer, disposition, note=note, actor=actor)
        elif transfer.state != State.DRAFT:
            _release_hold(transfer, actor=actor)
        record(
            transfer,
            state=State.CANCELLED,
            kind="cancelled",
            actor=actor,
            disposition=disposition,
            note=note,
        )
    return transfer


def _release_hold(transfer: Transfer, *, actor: Actor) -> None:
    write(
        [
            movement(
                transfer,
                line,
                at=transfer.source,
                transition="cancel",
                step="release",
                kind=MovementKind.RELEASE,
                reason=ReasonCode.TRANSFER,
                delta_reserved=-line.quantity,
            )
            for line in lines_of(transfer)
        ],
        actor=actor,
    )


def _cancel_in_transit(transfer: Transfer, disposition: str, *, note: str, actor: Actor) -> None:
    if disposition == LOST:
        write_off_in_transit(
            transfer, transition="cancel", reason=ReasonCode.LOST, note=note, actor=actor
        )
        return
    lines = [line for line in lines_of(transfer) if line.in_transit > 0]
    changes = []
    for line in lines:
        remainder = line.in_transit
        changes.append(
            movement(
                transfer,
                line,
                at=transfer.destination,
                transition="cancel",
                step="return_out",
                kind=MovementKind.TRANSFER_OUT,
                reason=ReasonCode.TRANSFER,
                note=note,
                delta_inbound=-remainder,
            )
        )
        changes.append(
            movement(
                transfer,
                line,
                at=transfer.source,
                transition="cancel",
                step="return_in",
                kind=MovementKind.TRANSFER_IN,
                reason=ReasonCode.TRANSFER,
                note=note,
                delta_inbound=remainder,
            )
        )
    write(changes, actor=actor)
    for line in lines:
        line.returned += line.in_transit
        line.save(update_fields=["returned"])
