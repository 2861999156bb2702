"""The demo's lanes, unit costs and transfers: one transfer in every state, so that the
transfers pages, the admin and the in-transit figures show something on a fresh `make run`.

Everything is written through the services (`stock.services.catalogue.update_variant`,
`transfers.services`), after the 90 days of history and before the snapshots are built.
Idempotent: a lane is created only when its route has none, a unit cost only where a
variant has none, and a transfer's whole story only when its reference is new, so a
second load changes nothing and an operator's edits stay.
"""

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from stock.actors import Actor
from stock.models import ReasonCode, StockLevel, Variant
from stock.services.catalogue import update_variant
from transfers.models import Lane, RejectedDisposition, RejectionReason, Transfer
from transfers.services import (
    BACK_TO_SOURCE,
    ReceiptLineInput,
    TransferLineInput,
    approve_transfer,
    cancel_transfer,
    close_transfer_short,
    create_lane,
    create_transfer,
    pick_transfer,
    receive_transfer,
    ship_transfer,
)
from warehouses.models import Warehouse

ACTOR = Actor.system("demo data")


@dataclass(frozen=True)
class LaneSpec:
    source: str
    destination: str
    lead_time_days: int
    cost_per_unit: str
    cost_per_shipment: str
    minimum_quantity: int
    is_active: bool = True


LANES = [
    LaneSpec("BAL", "AUS", 3, "0.45", "180.00", 6),
    LaneSpec("AUS", "BAL", 3, "0.45", "180.00", 6),
    LaneSpec("BAL", "RNO", 5, "0.60", "240.00", 6),
    LaneSpec("RNO", "AUS", 3, "0.40", "160.00", 4),
    LaneSpec("AUS", "RNO", 4, "0.50", "200.00", 6, is_active=False),  # retired
    LaneSpec("BER", "FRA", 1, "0.20", "90.00", 4),
    LaneSpec("FRA", "BER", 1, "0.20", "90.00", 4),
    LaneSpec("BAL", "BER", 12, "1.10", "850.00", 50),  # ocean freight
    # The showroom's van: Brooklyn to Baltimore the same day, so a shipment not received by
    # the time it is looked at is already late.
    LaneSpec("HQ", "BAL", 0, "0.15", "60.00", 0),
]

# What one unit costs the business, by product, for its queen size (or its only size).
UNIT_COSTS = {
    "PCL-SHEET": "38.00",
    "STN-SHEET": "46.00",
    "LIN-DUVET": "72.00",
    "FLN-CASE": "9.50",
    "BMB-SHEET": "52.00",
    "LIN-SHEET": "88.00",
    "STN-DUVET": "54.00",
    "PCL-CASE": "8.00",
    "LIN-CASE": "16.00",
    "FLN-SHEET": "34.00",
    "WFL-BLNKT": "41.00",
    "DAC-COMF": "96.00",
    "MAT-PROT": "22.00",
    "MNG-CASE": "6.50",
}
SIZE_COST = {
    "twin": Decimal("0.80"),
    "full": Decimal("0.90"),
    "king": Decimal("1.15"),
    "california king": Decimal("1.20"),
}


def unit_cost_of(variant: Variant) -> Decimal | None:
    product_code = variant.sku.rsplit("-", 2)[0]
    base = UNIT_COSTS.get(product_code)
    if base is None:
        return None
    factor = SIZE_COST.get(variant.attributes.get("size", ""), Decimal(1))
    return (Decimal(base) * factor).quantize(Decimal("0.01"))


def ensure_unit_costs() -> int:
    """A unit cost for each demo variant that has none; returns how many were set."""
    changed = 0
    for variant in Variant.objects.filter(unit_cost__isnull=True).order_by("sku"):
        cost = unit_cost_of(variant)
        if cost is not None:
            update_variant(variant=variant, unit_cost=cost)
            changed += 1
    return changed


def ensure_lanes(warehouses: dict[str, Warehouse]) -> int:
    existing = set(Lane.objects.values_list("source__code", "destination__code"))
    created = 0
    for spec in LANES:
        if (spec.source, spec.destination) in existing:
            continue
        create_lane(
            source=warehouses[spec.source],
            destination=warehouses[spec.destination],
            lead_time_days=spec.lead_time_days,
            cost_per_unit=spec.cost_per_unit,
            cost_per_shipment=spec.cost_per_shipment,
            minimum_quantity=spec.minimum_quantity,
            is_active=spec.is_active,
        )
        created += 1
    return created


# --- Transfers ------------------------------------------------------------------------------


class _Picker:
    """Chooses what each demo transfer carries: variants stocked at both ends, with enough
    available at the source, each variant on one demo transfer only."""

    def __init__(self) -> None:
        self.used: set[int] = set()

    def lines(
        self, source: Warehouse, destination: Warehouse, quantities: list[int]
    ) -> list[TransferLineInput]:
        at_destination = StockLevel.objects.filter(warehouse=destination).values("variant_id")
        candidates = (
            StockLevel.objects.filter(
                warehouse=source,
                variant_id__in=at_destination,
                variant__is_active=True,
                available__gte=max(quantities) * 2,
            )
            .exclude(variant_id__in=self.used)
            .select_related("variant")
            .order_by("-available", "variant__sku")
        )
        chosen = list(candidates[: len(quantities)])
        self.used.update(level.variant_id for level in chosen)
        return [
            TransferLineInput(variant=level.variant, quantity=quantity)
            for level, quantity in zip(chosen, quantities, strict=False)
        ]


Story = Callable[[Transfer], object]


def _approve(transfer: Transfer) -> object:
    return approve_transfer(transfer=transfer, actor=ACTOR)


def _pick(transfer: Transfer) -> object:
    return pick_transfer(transfer=transfer, actor=ACTOR)


def _ship(transfer: Transfer) -> object:
    return ship_transfer(transfer=transfer, actor=ACTOR)


def _receive(
    accepted_share: float, *, damaged: int = 0, receipt: str = "R1"
) -> Callable[[Transfer], object]:
    """Receive each line's `accepted_share` of what it shipped; `damaged` units of the first
    line are rejected as damaged and kept unsellable."""

    def receive(transfer: Transfer) -> object:
        entries = []
        for number, line in enumerate(transfer.lines.select_related("variant").order_by("pk")):
            rejected = damaged if number == 0 else 0
            accepted = max(0, int(line.shipped * accepted_share) - rejected)
            if accepted + rejected == 0:
                continue
            entries.append(
                ReceiptLineInput(
                    variant=line.variant,
                    accepted=accepted,
                    rejected=rejected,
                    rejection_reason=RejectionReason.DAMAGED if rejected else "",
                    rejected_disposition=RejectedDisposition.UNSELLABLE,
                )
            )
        return receive_transfer(
            transfer=transfer,
            receipt_reference=f"{transfer.reference}-{receipt}",
            lines=entries,
            actor=ACTOR,
        )

    return receive


def _close_short(transfer: Transfer) -> object:
    return close_transfer_short(
        transfer=transfer, actor=ACTOR, reason=ReasonCode.LOST, note="carton lost by the carrier"
    )


def _cancel(transfer: Transfer) -> object:
    return cancel_transfer(transfer=transfer, actor=ACTOR, note="demand moved back")


def _send_back(transfer: Transfer) -> object:
    return cancel_transfer(
        transfer=transfer,
        actor=ACTOR,
        disposition=BACK_TO_SOURCE,
        note="wrong destination: the truck turns round",
    )


@dataclass(frozen=True)
class TransferSpec:
    reference: str
    source: str
    destination: str
    quantities: list[int]
    reason: str
    story: list[Story]


TRANSFERS = [
    TransferSpec("DEMO-TR-001", "BAL", "AUS", [12, 8], "rebalance before the Texas sale", []),
    TransferSpec("DEMO-TR-002", "BAL", "RNO", [10], "restock the west coast", [_approve]),
    TransferSpec("DEMO-TR-003", "AUS", "BAL", [6], "return slow movers", [_approve, _pick]),
    TransferSpec("DEMO-TR-004", "BER", "FRA", [8], "weekend promotion", [_approve, _ship]),
    TransferSpec(
        "DEMO-TR-005",
        "BAL",
        "AUS",
        [10, 6],
        "rebalance",
        [_approve, _pick, _ship, _receive(0.5, damaged=1)],
    ),
    TransferSpec("DEMO-TR-006", "FRA", "BER", [6], "rebalance", [_approve, _ship, _receive(1)]),
    TransferSpec(
        "DEMO-TR-007",
        "BAL",
        "RNO",
        [10],
        "restock the west coast",
        [_approve, _ship, _receive(0.6), _close_short],
    ),
    TransferSpec("DEMO-TR-008", "AUS", "BAL", [6], "rebalance", [_approve, _cancel]),
    TransferSpec("DEMO-TR-009", "BAL", "AUS", [8], "rebalance", [_approve, _ship, _send_back]),
    TransferSpec("DEMO-TR-010", "HQ", "BAL", [1], "showroom stock to sell", [_approve, _ship]),
]


def ensure_transfers(warehouses: dict[str, Warehouse]) -> int:
    """Each demo transfer whose reference is new, taken through its story; returns how many."""
    picker = _Picker()
    known = Transfer.objects.filter(reference__in=[spec.reference for spec in TRANSFERS])
    known_references = set(known.values_list("reference", flat=True))
    picker.used.update(known.values_list("lines__variant_id", flat=True))
    created = 0
    for spec in TRANSFERS:
        if spec.reference in known_references:
            continue
        source, destination = warehouses[spec.source], warehouses[spec.destination]
        lines = picker.lines(source, destination, spec.quantities)
        if not lines:
            continue  # nothing stocked enough at the source to send
        transfer = create_transfer(
            source=source,
            destination=destination,
            lines=lines,
            reference=spec.reference,
            actor=ACTOR,
            reason=spec.reason,
        )
        for step in spec.story:
            step(transfer)
        created += 1
    return created
