"""The classic rule of thumb, kept beside the optimiser as the baseline it must beat.

Per warehouse: safety = max(ceil(daily demand x lead time + 5), 10) and surplus = available
- safety; then the biggest surplus is matched to the biggest deficit, again and again. It
ignores stock in transit, demand variance and lane cost, which is the point: the replay
benchmark (`make bench-transfers`) measures what that costs.
"""

import math
from collections import defaultdict
from collections.abc import Hashable, Iterable

from suggestions.plan import LaneSpec, Move, Plan, Policy, Position, Reason


def rule_of_thumb_safety(daily_demand: float, lead_time_days: int) -> int:
    return max(math.ceil(daily_demand * lead_time_days + 5), 10)


def rule_of_thumb(
    positions: Iterable[Position],
    lanes: Iterable[LaneSpec],
    policy: Policy,
    *,
    recent_moves: Iterable[tuple[Hashable, Hashable, Hashable]] = (),
) -> Plan:
    """Biggest surplus to biggest deficit per SKU, along active lanes only.

    A warehouse's lead time is that of its fastest active inbound lane. `recent_moves` is
    accepted for the same signature as the optimiser and ignored, as the rule does.
    """
    open_lanes = {(lane.source, lane.destination): lane for lane in lanes if lane.is_active}
    inbound_lead: dict[Hashable, int] = {}
    for lane in open_lanes.values():
        current = inbound_lead.get(lane.destination)
        if current is None or lane.lead_time_days < current:
            inbound_lead[lane.destination] = lane.lead_time_days
    by_sku: dict[Hashable, list[Position]] = defaultdict(list)
    for position in positions:
        by_sku[position.sku].append(position)
    plan = Plan()
    for sku, rows in by_sku.items():
        plan.moves.extend(_match(sku, rows, open_lanes, inbound_lead))
    plan.stats = {"skus": len(by_sku), "moves": len(plan.moves)}
    return plan


def _match(sku, rows: list[Position], open_lanes: dict, inbound_lead: dict) -> list[Move]:
    balance: dict[Hashable, int] = {}
    demand: dict[Hashable, float] = {}
    for position in rows:
        safety = rule_of_thumb_safety(
            position.daily_demand, inbound_lead.get(position.warehouse, 0)
        )
        balance[position.warehouse] = max(position.available, 0) - safety
        demand[position.warehouse] = position.daily_demand
    moves: list[Move] = []
    while True:
        donors = sorted((w for w in balance if balance[w] > 0), key=lambda w: -balance[w])
        receivers = sorted((w for w in balance if balance[w] < 0), key=lambda w: balance[w])
        pair = next(((d, r) for r in receivers for d in donors if (d, r) in open_lanes), None)
        if pair is None:
            return moves
        donor, receiver = pair
        lane = open_lanes[(donor, receiver)]
        quantity = min(balance[donor], -balance[receiver])
        balance[donor] -= quantity
        balance[receiver] += quantity
        moves.append(
            Move(
                sku=sku,
                source=donor,
                destination=receiver,
                quantity=quantity,
                lead_time_days=lane.lead_time_days,
                reason=Reason(
                    limited_by="donor_minimum" if balance[donor] == 0 else "forecast",
                    donor_cover_before_days=None,
                    donor_cover_after_days=None,
                    donor_minimum=0,
                    receiver_cover_before_days=None,
                    receiver_cover_after_days=None,
                    receiver_risk_before=0.0,
                    receiver_risk_after=0.0,
                    expected_units_saved=0.0,
                    value=0.0,
                    cost=quantity * lane.cost_per_unit + lane.cost_per_shipment,
                    policy="rule_of_thumb",
                ),
            )
        )
