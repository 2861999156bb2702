"""Reads of transfers shared by the API, the admin, the pages and (later) alerts and
suggestions. Nothing here writes."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db.models import F, Q, QuerySet
from django.utils import timezone

from transfers.models import Transfer, TransferLine, TransferState

State = TransferState
OPEN_STATES = (
    State.DRAFT,
    State.APPROVED,
    State.PICKED,
    State.SHIPPED,
    State.PARTIALLY_RECEIVED,
)
HOLDING_STATES = (State.APPROVED, State.PICKED)
ON_THE_ROAD = (State.SHIPPED, State.PARTIALLY_RECEIVED)

# A line's units on the road, as SQL (TransferLine.in_transit in Python).
IN_TRANSIT = (
    F("shipped") + F("over_received") - F("accepted") - F("rejected") - F("lost") - F("returned")
)


# Units sent back after a cancellation, on the road to the source (TransferLine.returning).
RETURNING = F("returned") - F("return_received")


def late_q(now: datetime | None = None) -> Q:
    """Transfers on the road past their due time (shipped + the lane's lead time)."""
    return Q(state__in=ON_THE_ROAD, due_at__lt=now or timezone.now())


def transfers_list() -> QuerySet[Transfer]:
    """Every transfer, newest first, with what a list shows."""
    return Transfer.objects.select_related("source", "destination", "lane").order_by("-pk")


def open_transfers() -> QuerySet[Transfer]:
    return transfers_list().filter(state__in=OPEN_STATES)


def is_late(transfer: Transfer, now: datetime | None = None) -> bool:
    return (
        transfer.state in ON_THE_ROAD
        and transfer.due_at is not None
        and transfer.due_at < (now or timezone.now())
    )


@dataclass(slots=True)
class LaneInTransit:
    """Units on the road from one warehouse to another, and what they are worth."""

    source_code: str
    destination_code: str
    transfers: int = 0
    units: int = 0
    value: Decimal = Decimal(0)
    # Units whose variant has no unit cost: the value leaves them out, and says so.
    units_without_cost: int = 0
    late_transfers: set[int] = field(default_factory=set)


def in_transit_by_lane(now: datetime | None = None) -> list[LaneInTransit]:
    """Per route with anything on the road: transfers, units and value in transit. Units
    sent back after a cancellation count on the route back (destination to source)."""
    now = now or timezone.now()
    columns = ("transfer_id", "transfer__due_at", "units", "variant__unit_cost")
    outbound = (
        TransferLine.objects.filter(transfer__state__in=ON_THE_ROAD)
        .annotate(units=IN_TRANSIT, start=F("transfer__source__code"))
        .annotate(end=F("transfer__destination__code"))
        .filter(units__gt=0)
        .values_list("start", "end", *columns)
    )
    back = (
        TransferLine.objects.filter(transfer__state=State.CANCELLED)
        .annotate(units=RETURNING, start=F("transfer__destination__code"))
        .annotate(end=F("transfer__source__code"))
        .filter(units__gt=0)
        .values_list("start", "end", *columns)
    )
    lanes: dict[tuple[str, str], LaneInTransit] = {}
    seen: dict[tuple[str, str], set[int]] = defaultdict(set)
    for source, destination, transfer_id, due_at, units, unit_cost in [*outbound, *back]:
        lane = lanes.setdefault((source, destination), LaneInTransit(source, destination))
        seen[source, destination].add(transfer_id)
        lane.units += units
        if unit_cost is None:
            lane.units_without_cost += units
        else:
            lane.value += units * unit_cost
        if due_at is not None and due_at < now:
            lane.late_transfers.add(transfer_id)
    for key, lane in lanes.items():
        lane.transfers = len(seen[key])
    return sorted(lanes.values(), key=lambda lane: (lane.source_code, lane.destination_code))


def units_in_transit() -> int:
    """Every unit on the road, all routes together and returns included (the overview's
    "in transit")."""
    return sum(lane.units for lane in in_transit_by_lane())


@dataclass(frozen=True, slots=True)
class VariantTransfers:
    """One variant's transfer quantities at one warehouse."""

    held: int = 0  # held here for approved transfers leaving
    outgoing: int = 0  # left from here, still on the road
    incoming: int = 0  # on the road to here (part of the level's inbound)


def variant_transfers(variant_id: int) -> dict[int, VariantTransfers]:
    """Per warehouse id: what the variant's open transfers hold, send and bring there."""
    held: dict[int, int] = defaultdict(int)
    outgoing: dict[int, int] = defaultdict(int)
    incoming: dict[int, int] = defaultdict(int)
    lines = (
        TransferLine.objects.filter(
            variant_id=variant_id,
            transfer__state__in=(*HOLDING_STATES, *ON_THE_ROAD, State.CANCELLED),
        )
        .annotate(units=IN_TRANSIT, back=RETURNING)
        .exclude(transfer__state=State.CANCELLED, back__lte=0)
        .values_list(
            "transfer__state",
            "transfer__source_id",
            "transfer__destination_id",
            "quantity",
            "units",
            "back",
        )
    )
    for state, source_id, destination_id, quantity, units, back in lines:
        if state in HOLDING_STATES:
            held[source_id] += quantity
        elif state == State.CANCELLED:
            # Sent back: on the road from the destination to the source.
            outgoing[destination_id] += back
            incoming[source_id] += back
        elif units > 0:
            outgoing[source_id] += units
            incoming[destination_id] += units
    return {
        warehouse_id: VariantTransfers(
            held=held[warehouse_id],
            outgoing=outgoing[warehouse_id],
            incoming=incoming[warehouse_id],
        )
        for warehouse_id in set(held) | set(outgoing) | set(incoming)
    }
