"""Creating a transfer: a draft that holds nothing yet."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from stock.actors import Actor
from stock.models import Variant
from stock.services.movements import require_quantity
from transfers.errors import InvalidTransfer
from transfers.models import Lane, Transfer, TransferEvent, TransferLine, TransferState
from warehouses.models import Warehouse

from .common import lock_transfer, record, require_state


@dataclass(frozen=True, slots=True)
class TransferLineInput:
    variant: Variant
    quantity: int


@dataclass(frozen=True, slots=True)
class CreatedTransfer:
    transfer: Transfer
    # False: the reference was taken already, and `transfer` is the one that has it.
    created: bool


def create_transfer(
    *,
    source: Warehouse,
    destination: Warehouse,
    lines: Sequence[TransferLineInput],
    reference: str | None,
    actor: Actor,
    source_system: str = "hub",
    reason: str = "",
    notes: str = "",
    allow_below_minimum: bool = False,
) -> Transfer:
    """`create_transfer_once`, answering only the transfer."""
    return create_transfer_once(
        source=source,
        destination=destination,
        lines=lines,
        reference=reference,
        actor=actor,
        source_system=source_system,
        reason=reason,
        notes=notes,
        allow_below_minimum=allow_below_minimum,
    ).transfer


def create_transfer_once(
    *,
    source: Warehouse,
    destination: Warehouse,
    lines: Sequence[TransferLineInput],
    reference: str | None,
    actor: Actor,
    source_system: str = "hub",
    reason: str = "",
    notes: str = "",
    allow_below_minimum: bool = False,
) -> CreatedTransfer:
    """A draft transfer with its lines; nothing is held and no stock moves.

    Who asked is the actor (its label, and its user when it has one). The expected
    arrival comes from the active lane between the two warehouses, if any.
    A second call with the same (source system, reference), even at the same moment,
    returns the first transfer (`created` False).
    Without a reference (None) it is given the next free `TR-<date>-<n>`: such a call is
    not idempotent by itself (the API pairs it with an Idempotency-Key).
    Fewer units in total than that lane's minimum quantity are refused (InvalidTransfer,
    details `{"field": "lines", "minimum": n}`) unless `allow_below_minimum`, an ops
    override the created event records.
    """
    if source.pk == destination.pk:
        raise InvalidTransfer(
            "A transfer needs two different warehouses.", {"field": "destination"}
        )
    quantities = _checked_quantities(lines)
    if reference is not None and not 1 <= len(reference) <= 100:
        raise InvalidTransfer("The reference must be 1 to 100 characters.", {"field": "reference"})
    with transaction.atomic():
        if reference is None:
            reference = _next_reference(source_system)
        existing = Transfer.objects.filter(source_system=source_system, reference=reference).first()
        if existing is not None:
            return CreatedTransfer(existing, created=False)
        lane = Lane.objects.filter(source=source, destination=destination, is_active=True).first()
        below_minimum = _below_minimum(lane, sum(quantities), allow_below_minimum)
        now = timezone.now()
        try:
            # A savepoint: the same reference created at the same moment by another request
            # fails only this insert, and that transfer is the answer.
            with transaction.atomic():
                transfer = Transfer.objects.create(
                    source=source,
                    destination=destination,
                    lane=lane,
                    source_system=source_system,
                    reference=reference,
                    requested_by_id=actor.user_id,
                    requested_by_label=actor.label,
                    reason=reason,
                    notes=notes,
                    expected_arrival=(
                        timezone.localdate(now) + timedelta(days=lane.lead_time_days)
                        if lane
                        else None
                    ),
                    state=TransferState.DRAFT,
                    created_at=now,
                    updated_at=now,
                )
        except IntegrityError as error:
            if "transfer_reference_unique" not in str(error):
                raise
            taken = Transfer.objects.get(source_system=source_system, reference=reference)
            return CreatedTransfer(taken, created=False)
        TransferLine.objects.bulk_create(
            TransferLine(transfer=transfer, variant=line.variant, quantity=quantity)
            for line, quantity in zip(lines, quantities, strict=True)
        )
        TransferEvent.objects.create(
            transfer=transfer,
            kind="created",
            actor_label=actor.label,
            at=now,
            details=below_minimum or {},
        )
    return CreatedTransfer(transfer, created=True)


def _checked_quantities(lines: Sequence[TransferLineInput]) -> list[int]:
    if not lines:
        raise InvalidTransfer("A transfer needs at least one line.", {"field": "lines"})
    if len({line.variant.pk for line in lines}) != len(lines):
        raise InvalidTransfer("A variant appears on two lines.", {"field": "lines"})
    return [require_quantity("quantity", line.quantity, minimum=1) for line in lines]


def edit_draft(
    *,
    transfer: Transfer,
    actor: Actor,
    lines: Sequence[TransferLineInput] | None = None,
    reason: str | None = None,
    notes: str | None = None,
) -> Transfer:
    """Change a draft's lines (all of them replaced), reason or notes; None leaves one as
    it is. Refused (InvalidTransferState) once approved: its units are held by then.

    Locks the transfer row. A change is one timeline entry naming the changed fields; an
    edit that changes nothing writes nothing.
    """
    quantities = _checked_quantities(lines) if lines is not None else []
    with transaction.atomic():
        transfer = lock_transfer(transfer)
        require_state(transfer, "edited", TransferState.DRAFT)
        changed = [
            name
            for name, value in (("reason", reason), ("notes", notes))
            if value is not None and getattr(transfer, name) != value
        ]
        for name in changed:
            setattr(transfer, name, reason if name == "reason" else notes)
        if lines is not None:
            wanted = {
                (line.variant.pk, quantity)
                for line, quantity in zip(lines, quantities, strict=True)
            }
            if set(transfer.lines.values_list("variant_id", "quantity")) != wanted:
                transfer.lines.all().delete()
                TransferLine.objects.bulk_create(
                    TransferLine(transfer=transfer, variant=line.variant, quantity=quantity)
                    for line, quantity in zip(lines, quantities, strict=True)
                )
                changed.append("lines")
        if changed:
            transfer.save(update_fields=[name for name in changed if name != "lines"])
            record(transfer, state=TransferState.DRAFT, kind="edited", actor=actor, fields=changed)
    return transfer


def _below_minimum(lane: Lane | None, total: int, is_allowed: bool) -> dict[str, object] | None:
    """What the created event records of an allowed transfer below its lane's minimum;
    None when the minimum is met. Refused when it is not met and not allowed."""
    if lane is None or total >= lane.minimum_quantity:
        return None
    if not is_allowed:
        raise InvalidTransfer(
            f"{total} units are below the lane's minimum of {lane.minimum_quantity}.",
            {"field": "lines", "minimum": lane.minimum_quantity},
        )
    return {"below_minimum": True, "minimum": lane.minimum_quantity, "quantity": total}


# Any constant of our own: the transaction-scoped lock that numbers references one at a time.
_REFERENCE_LOCK = 20_0001


def _next_reference(source_system: str) -> str:
    """The next unused `TR-<yyyymmdd>-<n>` of today, inside the caller's transaction.

    On PostgreSQL an advisory lock held to the commit numbers concurrent creates one after
    the other, so two never pick the same number (which create_transfer would take for a
    retry of the first).
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_REFERENCE_LOCK])
    prefix = f"TR-{timezone.localdate():%Y%m%d}-"
    taken = set(
        Transfer.objects.filter(
            source_system=source_system, reference__startswith=prefix
        ).values_list("reference", flat=True)
    )
    number = len(taken) + 1
    while f"{prefix}{number}" in taken:
        number += 1
    return f"{prefix}{number}"
