"""What every transition shares: the transfer lock, the ledger write and the timeline."""

from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import partial

from django.db import transaction
from django.utils import timezone

from stock.actors import Actor
from stock.models import MovementKind, MovementSource
from stock.services.ledger import (
    TRANSFER_REFERENCE,
    BatchRejected,
    ChangeOutcome,
    LevelChange,
    apply_changes,
)
from transfers.errors import InvalidTransferState
from transfers.events import publish_transfer_changed
from transfers.models import Transfer, TransferEvent, TransferLine
from warehouses.models import Warehouse


def lock_transfer(transfer: Transfer) -> Transfer:
    """The transfer row, FOR UPDATE: taken before any level, as orders do (order, then levels)."""
    return (
        Transfer.objects.select_for_update(of=("self",))
        .select_related("source", "destination", "lane")
        .get(pk=transfer.pk)
    )


def lines_of(transfer: Transfer) -> list[TransferLine]:
    return list(transfer.lines.select_related("variant").order_by("pk"))


def require_state(transfer: Transfer, transition: str, *allowed: str) -> None:
    if transfer.state not in allowed:
        raise InvalidTransferState(
            f"Transfer {transfer.reference} is {transfer.state}: it cannot be {transition}.",
            {"state": transfer.state, "transition": transition},
        )


def reference(transfer: Transfer, transition: str, step: str, line: TransferLine) -> str:
    return TRANSFER_REFERENCE(transfer=transfer.pk, transition=transition, step=step, line=line.pk)


def movement(
    transfer: Transfer,
    line: TransferLine,
    *,
    at: Warehouse,
    transition: str,
    step: str,
    kind: str,
    reason: str,
    note: str = "",
    delta_on_hand: int = 0,
    delta_reserved: int = 0,
    delta_unsellable: int = 0,
    delta_inbound: int = 0,
    allow_backorder: bool | None = None,
) -> LevelChange:
    """One ledger change of a transfer line at one end (`at`), with the transfer as its
    document and a reference unique per (transfer, transition, step, line)."""
    return LevelChange(
        variant=line.variant,
        warehouse=at,
        kind=kind,
        reason=reason,
        note=note,
        document=transfer.document,
        reference=reference(transfer, transition, step, line),
        delta_on_hand=delta_on_hand,
        delta_reserved=delta_reserved,
        delta_unsellable=delta_unsellable,
        delta_inbound=delta_inbound,
        allow_backorder=allow_backorder,
    )


def write_off_in_transit(
    transfer: Transfer, *, transition: str, reason: str, note: str, actor: Actor
) -> None:
    """What each line still has in transit, written off at the destination as lost
    (inbound minus the remainder, counted on the line's `lost`)."""
    lines = [line for line in lines_of(transfer) if line.in_transit > 0]
    changes = [
        movement(
            transfer,
            line,
            at=transfer.destination,
            transition=transition,
            step="lost",
            kind=MovementKind.ADJUSTMENT,
            reason=reason,
            note=note,
            delta_inbound=-line.in_transit,
        )
        for line in lines
    ]
    write(changes, actor=actor)
    for line in lines:
        line.lost += line.in_transit
        line.save(update_fields=["lost"])


def write(changes: Sequence[LevelChange], *, actor: Actor) -> list[ChangeOutcome]:
    """The changes through the ledger, as transfer movements; raises the first refusal."""
    try:
        return apply_changes(changes, actor=actor, source=MovementSource.TRANSFER)
    except BatchRejected as rejected:
        raise rejected.errors[0][1] from None


def record(transfer: Transfer, *, state: str, kind: str, actor: Actor, **details: object) -> None:
    """The new state and its timeline entry, committed with the movements."""
    now = timezone.now()
    transfer.state = state
    transfer.updated_at = now
    transfer.save(update_fields=["state", "updated_at", *stamp(transfer, state, now)])
    note(transfer, kind=kind, actor=actor, at=now, **details)


def note(
    transfer: Transfer,
    *,
    kind: str,
    actor: Actor,
    at: datetime | None = None,
    **details: object,
) -> None:
    """A timeline entry that changes no state (a return received back at the source)."""
    TransferEvent.objects.create(
        transfer=transfer,
        kind=kind,
        actor_label=actor.label,
        at=at or timezone.now(),
        details=details,
    )
    transaction.on_commit(partial(publish_transfer_changed, transfer.pk))


def stamp(transfer: Transfer, state: str, now: datetime) -> list[str]:
    field = {
        "approved": "approved_at",
        "shipped": "shipped_at",
        "received": "closed_at",
        "closed_short": "closed_at",
        "cancelled": "closed_at",
    }.get(state)
    if field is None:
        return []
    setattr(transfer, field, now)
    if state == "shipped" and transfer.lane is not None:
        transfer.due_at = now + timedelta(days=transfer.lane.lead_time_days)
        return [field, "due_at"]
    return [field]
