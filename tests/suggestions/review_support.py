"""Reviews over hand-made positions, for the tests of what a review writes and what people
do with its suggestions: the plan is given (a fixed planner), the writing is the real one."""

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from suggestions.models import Review, ReviewKind
from suggestions.plan import LaneSpec, Move, Plan, Policy, Position, Reason
from suggestions.services.reviews import record_review
from transfers.models import Lane

TODAY = date(2026, 12, 1)


@dataclass
class Given:
    positions: Sequence[Position] = ()
    lanes: Sequence[LaneSpec] = ()
    policy: Policy = field(default_factory=Policy)
    recent_moves: Sequence[tuple[Hashable, Hashable, Hashable]] = ()
    lane_ids: Mapping[tuple[int, int], int] = field(default_factory=dict)


def reason(**changes: object) -> Reason:
    values: dict = {
        "limited_by": "forecast",
        "donor_cover_before_days": 30.0,
        "donor_cover_after_days": 20.0,
        "donor_minimum": 7,
        "receiver_cover_before_days": 1.0,
        "receiver_cover_after_days": 11.0,
        "receiver_risk_before": 0.9,
        "receiver_risk_after": 0.05,
        "expected_units_saved": 8.5,
        "value": 170.0,
        "cost": 12.5,
    }
    values.update(changes)
    return Reason(**values)


def move(variant, lane: Lane, quantity: int, **reason_changes: object) -> Move:
    return Move(
        sku=variant.pk,
        source=lane.source_id,
        destination=lane.destination_id,
        quantity=quantity,
        lead_time_days=lane.lead_time_days,
        reason=reason(**reason_changes),
    )


def position(variant, warehouse, available: int, daily_demand: float, **more) -> Position:
    return Position(
        sku=variant.pk,
        warehouse=warehouse.pk,
        available=available,
        daily_demand=daily_demand,
        **more,
    )


def fixed(*moves: Move):
    """A planner that proposes exactly these moves."""

    def planner(positions, lanes, policy, *, recent_moves=()) -> Plan:
        return Plan(moves=list(moves), stats={"planner": "fixed"})

    return planner


def review(
    *moves: Move,
    lanes: Sequence[Lane],
    positions: Sequence[Position] = (),
    variant_ids=None,
    kind: str = ReviewKind.MANUAL,
    started_at: datetime | None = None,
) -> Review:
    """One review, written by the real service, whose plan is `moves`."""
    given = Given(
        positions=positions,
        lanes=[
            LaneSpec(
                source=lane.source_id,
                destination=lane.destination_id,
                lead_time_days=lane.lead_time_days,
            )
            for lane in lanes
        ],
        lane_ids={(lane.source_id, lane.destination_id): lane.pk for lane in lanes},
    )
    return record_review(
        kind=kind,
        review_input=given,
        variant_ids=variant_ids,
        today=TODAY,
        planner=fixed(*moves),
        started_at=started_at,
    )
