"""The optimiser: positions, forecasts, lanes and a policy in, suggested moves out.

Pure: no database, no Django. Being written (issue 22); see docs/adr/0012.
"""

from collections.abc import Hashable, Iterable

from suggestions.plan import LaneSpec, Plan, Policy, Position


def optimise(
    positions: Iterable[Position],
    lanes: Iterable[LaneSpec],
    policy: Policy,
    *,
    recent_moves: Iterable[tuple[Hashable, Hashable, Hashable]] = (),
) -> Plan:
    """Moves that maximise expected lost sales avoided, priced at the policy's cost of a lost
    sale, minus the lanes' costs. `recent_moves` are (sku, source, destination) moved within
    `policy.no_return_days`: the reverse route is closed for that SKU."""
    raise NotImplementedError
