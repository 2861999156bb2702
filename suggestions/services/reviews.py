"""A review: the optimiser run over the hub's positions, and the suggestions it leaves open.

The slow part (building the input, solving) runs outside any transaction; only writing the
review and its suggestions is one, and reviews write one at a time (an advisory lock), so a
daily review and a reactive check never race for the same open route.
"""

import hashlib
import json
import math
import time
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol, cast

from django.db import connection, transaction
from django.utils import timezone

from stock.services.history import utc_today
from suggestions.models import Review, ReviewKind, Suggestion, SuggestionState
from suggestions.optimiser import optimise
from suggestions.plan import LaneSpec, Move, Plan, Policy, Position
from suggestions.positions import build_review_input
from transfers.models import TransferLine
from transfers.selectors import HOLDING_STATES
from warehouses.models import Warehouse

# Any constant of our own: the transaction-scoped lock that lets one review write at a time.
_REVIEW_WRITE_LOCK = 22_0001
SITUATION_VERSION = "v1"


class ReviewInputLike(Protocol):
    """What a review reads (suggestions.positions.ReviewInput has these)."""

    @property
    def positions(self) -> Sequence[Position]: ...
    @property
    def lanes(self) -> Sequence[LaneSpec]: ...
    @property
    def policy(self) -> Policy: ...
    @property
    def recent_moves(self) -> Iterable[tuple[Hashable, Hashable, Hashable]]: ...
    @property
    def lane_ids(self) -> Mapping[tuple[int, int], int]: ...


Planner = Callable[..., Plan]


def run_review(
    *,
    kind: ReviewKind | str,
    variant_ids: Collection[int] | None = None,
    today: date | None = None,
    planner: Planner = optimise,
) -> Review:
    """Review the positions of `variant_ids` (None: every variant) and leave open what the
    plan proposes: see `record_review` for what is written. Builds the input from the
    ledger, forecasts and lanes (`suggestions.positions.build_review_input`), outside any
    transaction."""
    started_at = timezone.now()
    clock = time.perf_counter()
    today = today or utc_today()
    review_input = build_review_input(
        variant_ids=None if variant_ids is None else sorted(variant_ids), today=today
    )
    input_ms = _ms_since(clock)
    return record_review(
        kind=kind,
        review_input=review_input,
        variant_ids=variant_ids,
        today=today,
        planner=planner,
        started_at=started_at,
        clock=clock,
        extra_stats={"input_ms": input_ms},
    )


def record_review(
    *,
    kind: ReviewKind | str,
    review_input: ReviewInputLike,
    variant_ids: Collection[int] | None,
    today: date,
    planner: Planner = optimise,
    started_at: datetime | None = None,
    clock: float | None = None,
    extra_stats: Mapping[str, Any] | None = None,
) -> Review:
    """Plan over `review_input`, then in one transaction write the Review and its
    suggestions:

    - each proposed move is an open suggestion of its route (variant, source, destination):
      a new row, or the route's open row refreshed in place (same id, new figures, this
      review);
    - a move whose route has a *dismissed* suggestion with the same situation key is not
      written (counted in stats["skipped_dismissed"]): a dismissal sticks until the
      situation changes (`situation_key`);
    - nor is a move on a route with a transfer approved and not yet shipped for that
      variant, or whose suggestion was approved since `started_at`: those units are moving
      already (stats["skipped_transfer_pending"]);
    - every other open suggestion of the reviewed variants (all variants when
      `variant_ids` is None) becomes superseded.

    Locks the open suggestions of the reviewed variants; moves no stock.
    """
    started_at = started_at or timezone.now()
    clock = time.perf_counter() if clock is None else clock
    plan_clock = time.perf_counter()
    plan = planner(
        review_input.positions,
        review_input.lanes,
        review_input.policy,
        recent_moves=review_input.recent_moves,
    )
    plan_ms = _ms_since(plan_clock)
    positions = {(p.sku, p.warehouse): p for p in review_input.positions}
    policy = review_input.policy
    stats: dict[str, Any] = {**_plain(plan.stats), **(extra_stats or {}), "plan_ms": plan_ms}
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_REVIEW_WRITE_LOCK])
        counts = _write(
            plan.moves,
            positions=positions,
            policy=policy,
            lane_ids=review_input.lane_ids,
            variant_ids=variant_ids,
            today=today,
            since=started_at,
        )
        write_clock = time.perf_counter()
        review = Review.objects.create(
            kind=kind,
            started_at=started_at,
            cost_of_lost_sale=_money(policy.cost_of_lost_sale),
            variants_considered=len({p.sku for p in review_input.positions}),
            suggestions_made=len(counts.rows),
            stats={
                **stats,
                "moves": len(plan.moves),
                "created": counts.created,
                "refreshed": counts.refreshed,
                "superseded": counts.superseded,
                "skipped_dismissed": counts.skipped_dismissed,
                "skipped_no_lane": counts.skipped_no_lane,
                "skipped_transfer_pending": counts.skipped_transfer_pending,
            },
        )
        for row in counts.rows:
            row.review = review
        Suggestion.objects.bulk_create([row for row in counts.rows if row.pk is None])
        # The refreshed rows in one INSERT ... ON CONFLICT (id) DO UPDATE: bulk_update's
        # CASE per field and row took 10 s for 1,839 rows.
        Suggestion.objects.bulk_create(
            [row for row in counts.rows if row.pk is not None],
            update_conflicts=True,
            unique_fields=["id"],
            update_fields=[*_FIGURES, "review"],
        )
        review.finished_at = timezone.now()
        review.runtime_ms = _ms_since(clock)
        review.stats["write_ms"] = _ms_since(write_clock)
        review.save(update_fields=["finished_at", "runtime_ms", "stats"])
    return review


_FIGURES = [
    "lane",
    "quantity",
    "expected_arrival",
    "value",
    "cost",
    "reason",
    "reason_text",
    "situation_key",
]


@dataclass(slots=True)
class _Written:
    rows: list[Suggestion]
    created: int = 0
    refreshed: int = 0
    superseded: int = 0
    skipped_dismissed: int = 0
    skipped_no_lane: int = 0
    skipped_transfer_pending: int = 0


def _write(
    moves: Sequence[Move],
    *,
    positions: Mapping[tuple[Hashable, Hashable], Position],
    policy: Policy,
    lane_ids: Mapping[tuple[int, int], int],
    variant_ids: Collection[int] | None,
    today: date,
    since: datetime,
) -> _Written:
    """The suggestion rows to save (not saved yet: the review row comes first); supersedes
    what the plan no longer proposes."""
    open_rows = Suggestion.objects.select_for_update().filter(state=SuggestionState.OPEN)
    if variant_ids is not None:
        open_rows = open_rows.filter(variant_id__in=list(variant_ids))
    open_by_route = {
        (row.variant_id, row.source_id, row.destination_id): row for row in open_rows.order_by("pk")
    }
    keyed = [(move, situation_key(move=move, positions=positions, policy=policy)) for move in moves]
    dismissed = set(
        Suggestion.objects.filter(
            state=SuggestionState.DISMISSED,
            variant_id__in={move.sku for move in moves},
            situation_key__in={key for _, key in keyed},
        ).values_list("variant_id", "source_id", "destination_id", "situation_key")
    )
    # A route with a transfer held at the source and not yet shipped already moves these
    # units, as does one approved while this review was planning (after its positions were
    # read, so they do not count it yet).
    variants = {move.sku for move in moves}
    pending = set(
        TransferLine.objects.filter(
            transfer__state__in=HOLDING_STATES,
            variant_id__in=variants,
        ).values_list("variant_id", "transfer__source_id", "transfer__destination_id")
    ) | set(
        Suggestion.objects.filter(
            state=SuggestionState.APPROVED, decided_at__gte=since, variant_id__in=variants
        ).values_list("variant_id", "source_id", "destination_id")
    )
    codes = dict(
        Warehouse.objects.filter(
            pk__in={w for move in moves for w in (move.source, move.destination)}
        ).values_list("pk", "code")
    )
    written = _Written(rows=[])
    kept: set[tuple[int, int, int]] = set()
    for move, key in keyed:
        # The hub's positions are keyed by ids (suggestions.positions).
        route = (cast(int, move.sku), cast(int, move.source), cast(int, move.destination))
        lane_id = lane_ids.get((route[1], route[2]))
        if lane_id is None:
            written.skipped_no_lane += 1
            continue
        if (*route, key) in dismissed:
            written.skipped_dismissed += 1
            continue
        if route in pending:
            written.skipped_transfer_pending += 1
            continue
        if route in kept:  # a plan proposes one move per route; a second is ignored
            continue
        kept.add(route)
        figures = _figures(move, key=key, lane_id=lane_id, codes=codes, today=today)
        row = open_by_route.get(route)
        if row is None:
            row = Suggestion(
                variant_id=route[0],
                source_id=route[1],
                destination_id=route[2],
                state=SuggestionState.OPEN,
                created_at=timezone.now(),
                **figures,
            )
            written.created += 1
        else:
            for name, value in figures.items():
                setattr(row, name, value)
            written.refreshed += 1
        written.rows.append(row)
    stale = [row.pk for route, row in open_by_route.items() if route not in kept]
    if stale:
        written.superseded = Suggestion.objects.filter(pk__in=stale).update(
            state=SuggestionState.SUPERSEDED, decided_at=timezone.now()
        )
    return written


def _figures(
    move: Move, *, key: str, lane_id: int, codes: Mapping[Any, str], today: date
) -> dict[str, Any]:
    reason = move.reason
    return {
        "lane_id": lane_id,
        "quantity": move.quantity,
        "expected_arrival": today + timedelta(days=move.lead_time_days),
        "value": _money(reason.value),
        "cost": _money(reason.cost),
        "reason": _plain(reason.as_dict()),
        "reason_text": reason.text(
            source=codes.get(move.source, str(move.source)),
            destination=codes.get(move.destination, str(move.destination)),
        ),
        "situation_key": key,
    }


def situation_key(
    *, move: Move, positions: Mapping[tuple[Hashable, Hashable], Position], policy: Policy
) -> str:
    """What a dismissal is held against: the move's situation, rounded so that noise keeps
    the same key and a real change makes a new one.

    The situation is, over the move's horizon (its lead time + the policy's review days):
    - the receiver's and the donor's projected stock (available + what arrives within the
      horizon), each in a geometric bucket, each bucket a factor sqrt(2) wider than the
      last (4-5 units share one, 8-11 one, 12-15 the next);
    - their forecast daily demands, each rounded to 2 significant digits;
    - the quantity, in the same buckets.
    So a sale or two at a receiver of 18 units (bucket 16-22) does not re-open a dismissed
    suggestion, while a third of its stock gone, a forecast that moves its second digit or
    a transfer arriving does. Any rounding has edges: a change across a bucket's edge
    re-opens it. The key is the SHA-256 of those values (64 hex digits), versioned so a
    later rule never matches an older key.
    """
    horizon = move.lead_time_days + policy.review_days
    receiver = positions.get((move.sku, move.destination))
    donor = positions.get((move.sku, move.source))
    values = [
        SITUATION_VERSION,
        *_position_situation(receiver, horizon),
        *_position_situation(donor, horizon),
        _bucket(move.quantity),
    ]
    return hashlib.sha256(json.dumps(values).encode()).hexdigest()


def _position_situation(position: Position | None, horizon: int) -> list[object]:
    if position is None:
        return [None, None]
    projected = position.available + position.arriving_within(horizon)
    return [_bucket(projected), f"{position.daily_demand:.2g}"]


def _bucket(units: int) -> int:
    """0 for none, then one bucket per factor sqrt(2): 1 | 2 | 3 | 4-5 | 6-7 | 8-11 | 12-15 ..."""
    if units <= 0:
        return 0
    return 1 + math.floor(2 * math.log2(units) + 1e-9)


def _money(amount: float) -> Decimal:
    if not math.isfinite(amount):
        return Decimal("0.00")
    return Decimal(str(round(amount, 2))).quantize(Decimal("0.01"))


def _plain(value: Any) -> Any:
    """JSON that PostgreSQL takes: non-finite floats become None, tuples and sets lists,
    keys strings."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(item) for item in value]
    if isinstance(value, int | str | bool) or value is None:
        return value
    return str(value)


def _ms_since(clock: float) -> int:
    return max(0, round((time.perf_counter() - clock) * 1000))
