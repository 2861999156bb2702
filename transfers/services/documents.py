"""Creating a transfer: a draft that holds nothing yet."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from stock.actors import Actor
from stock.models import Variant
from stock.services.movements import require_quantity
from transfers.errors import InvalidTransfer
from transfers.models import Lane, Transfer, TransferEvent, TransferLine, TransferState
from warehouses.models import Warehouse


@dataclass(frozen=True, slots=True)
class TransferLineInput:
    variant: Variant
    quantity: int


def create_transfer(
    *,
    source: Warehouse,
    destination: Warehouse,
    lines: Sequence[TransferLineInput],
    reference: str,
    actor: Actor,
    source_system: str = "hub",
    reason: str = "",
    notes: str = "",
    allow_below_minimum: bool = False,
) -> Transfer:
    """A draft transfer with its lines; nothing is held and no stock moves.

    Who asked is the actor (its label, and its user when it has one). The expected
    arrival comes from the active lane between the two warehouses, if any.
    A second call with the same (source system, reference) returns the first transfer.
    Fewer units in total than that lane's minimum quantity are refused (InvalidTransfer,
    details `{"field": "lines", "minimum": n}`) unless `allow_below_minimum`, an ops
    override the created event records.
    """
    if source.pk == destination.pk:
        raise InvalidTransfer(
            "A transfer needs two different warehouses.", {"field": "destination"}
        )
    if not lines:
        raise InvalidTransfer("A transfer needs at least one line.", {"field": "lines"})
    if len({line.variant.pk for line in lines}) != len(lines):
        raise InvalidTransfer("A variant appears on two lines.", {"field": "lines"})
    if not reference or len(reference) > 100:
        raise InvalidTransfer("The reference must be 1 to 100 characters.", {"field": "reference"})
    quantities = [require_quantity("quantity", line.quantity, minimum=1) for line in lines]
    with transaction.atomic():
        existing = Transfer.objects.filter(source_system=source_system, reference=reference).first()
        if existing is not None:
            return existing
        lane = Lane.objects.filter(source=source, destination=destination, is_active=True).first()
        below_minimum = _below_minimum(lane, sum(quantities), allow_below_minimum)
        now = timezone.now()
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
                timezone.localdate(now) + timedelta(days=lane.lead_time_days) if lane else None
            ),
            state=TransferState.DRAFT,
            created_at=now,
            updated_at=now,
        )
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
