"""What people do with suggestions: approve them (real transfers, one per lane) or dismiss
them (not suggested again until the situation changes: services/reviews.py)."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from stock.actors import Actor
from stock.errors import StockError
from suggestions.errors import (
    LaneNotActive,
    SuggestionError,
    SuggestionNotOpen,
    UnknownSuggestion,
)
from suggestions.models import Suggestion, SuggestionState
from transfers.models import Transfer
from transfers.services import TransferLineInput, approve_transfer, create_transfer_once

MAX_NOTE_LENGTH = 1000


@dataclass(frozen=True, slots=True)
class LaneRefusal:
    """A lane whose suggestions could not become a transfer; nothing of it was written."""

    lane_id: int
    route: str  # "NORTH → SOUTH"
    suggestion_ids: tuple[int, ...]
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.route}: {self.message}"


@dataclass(slots=True)
class ApprovalResult:
    # One approved transfer per lane that went through, in lane order.
    transfers: list[Transfer] = field(default_factory=list)
    refusals: list[LaneRefusal] = field(default_factory=list)
    approved_ids: list[int] = field(default_factory=list)
    # Asked for but not open (approved, dismissed or superseded already, or unknown).
    skipped_ids: list[int] = field(default_factory=list)


def approve_suggestions(*, suggestion_ids: Iterable[int], actor: Actor) -> ApprovalResult:
    """Turn the open suggestions among `suggestion_ids` into transfers, one per lane.

    Each lane is its own transaction: its suggestions are locked, one transfer is created
    with a line per suggestion (reference `SUG-<review>-<lane>`, the reasons in its notes)
    and approved, so the units are held at the source; the suggestions become approved,
    pointing at it. When the transfers refuse (not enough available at the source, below
    the lane's minimum, the lane retired) nothing of that lane is written and the refusal
    is in `refusals`; other lanes go on. Suggestions no longer open are skipped, so a
    repeat is a no-op.
    """
    wanted = sorted(set(suggestion_ids))
    lanes: dict[int, list[int]] = defaultdict(list)
    for pk, lane_id in (
        Suggestion.objects.filter(pk__in=wanted, state=SuggestionState.OPEN)
        .order_by("pk")
        .values_list("pk", "lane_id")
    ):
        lanes[lane_id].append(pk)
    result = ApprovalResult()
    for lane_id in sorted(lanes):
        _approve_lane_group(lane_id, lanes[lane_id], actor=actor, result=result)
    approved = set(result.approved_ids)
    refused = {pk for refusal in result.refusals for pk in refusal.suggestion_ids}
    result.skipped_ids = [pk for pk in wanted if pk not in approved and pk not in refused]
    return result


def approve_lane(*, lane_id: int, actor: Actor) -> ApprovalResult:
    """`approve_suggestions` of every open suggestion on one lane."""
    return approve_suggestions(suggestion_ids=_open_ids(lane_id=lane_id), actor=actor)


def approve_all(*, actor: Actor) -> ApprovalResult:
    """`approve_suggestions` of every open suggestion: one transfer per lane."""
    return approve_suggestions(suggestion_ids=_open_ids(), actor=actor)


def _open_ids(**filters: int) -> list[int]:
    return list(
        Suggestion.objects.filter(state=SuggestionState.OPEN, **filters).values_list(
            "pk", flat=True
        )
    )


def _approve_lane_group(
    lane_id: int, suggestion_ids: list[int], *, actor: Actor, result: ApprovalResult
) -> None:
    try:
        with transaction.atomic():
            rows = list(_locked_open(lane_id, suggestion_ids))
            if not rows:  # decided meanwhile
                return
            transfer = _transfer_for(rows, actor=actor)
            Suggestion.objects.filter(pk__in=[row.pk for row in rows]).update(
                state=SuggestionState.APPROVED,
                transfer=transfer,
                decided_at=timezone.now(),
                decided_by_id=actor.user_id,
                decided_by_label=actor.label,
            )
    except StockError as error:
        lane = (
            Suggestion.objects.filter(pk__in=suggestion_ids)
            .select_related("source", "destination")
            .first()
        )
        route = f"{lane.source.code} → {lane.destination.code}" if lane else str(lane_id)
        result.refusals.append(
            LaneRefusal(
                lane_id=lane_id,
                route=route,
                suggestion_ids=tuple(suggestion_ids),
                code=error.code,
                message=error.message,
            )
        )
        return
    result.transfers.append(transfer)
    result.approved_ids.extend(row.pk for row in rows)


def _locked_open(lane_id: int, suggestion_ids: list[int]) -> QuerySet[Suggestion]:
    return (
        Suggestion.objects.select_for_update(of=("self",))
        .select_related("variant", "source", "destination", "lane")
        .filter(pk__in=suggestion_ids, lane_id=lane_id, state=SuggestionState.OPEN)
        .order_by("pk")
    )


def _transfer_for(rows: list[Suggestion], *, actor: Actor) -> Transfer:
    first = rows[0]
    lane = first.lane
    if not lane.is_active:
        raise LaneNotActive(
            f"The lane {first.source.code} → {first.destination.code} is retired.",
            {"lane": lane.pk},
        )
    review_id = max(row.review_id for row in rows)
    value = sum((row.value for row in rows), Decimal(0))
    cost = sum((row.cost for row in rows), Decimal(0))
    reason = (
        f"Suggested by review {review_id}: {len(rows)} line(s), expected value {value} "
        f"against {cost} of transfer cost."
    )
    notes = "\n".join(f"{row.quantity} x {row.variant.sku}: {row.reason_text}" for row in rows)
    lines = [TransferLineInput(variant=row.variant, quantity=row.quantity) for row in rows]
    for reference in (f"SUG-{review_id}-{lane.pk}", f"SUG-{review_id}-{lane.pk}-{first.pk}"):
        made = create_transfer_once(
            source=first.source,
            destination=first.destination,
            lines=lines,
            reference=reference,
            actor=actor,
            reason=reason[:200],
            notes=notes,
        )
        if made.created:
            return approve_transfer(transfer=made.transfer, actor=actor)
    # Both taken: only a transfer made by hand with such a reference could do this.
    raise SuggestionError(
        f"The references SUG-{review_id}-{lane.pk}… are taken already.", {"lane": lane.pk}
    )


def dismiss_suggestion(*, suggestion_id: int, actor: Actor, note: str = "") -> Suggestion:
    """Dismiss an open suggestion: later reviews do not suggest that route again while the
    situation is the same (its situation key). Locks the row. Dismissing one dismissed
    already returns it unchanged; one approved or superseded is refused
    (SuggestionNotOpen). The note, if any, is kept in the reason as `dismissal_note`."""
    if len(note) > MAX_NOTE_LENGTH:
        raise SuggestionError(f"A note is at most {MAX_NOTE_LENGTH} characters.", {"field": "note"})
    with transaction.atomic():
        try:
            row = Suggestion.objects.select_for_update().get(pk=suggestion_id)
        except Suggestion.DoesNotExist:
            raise UnknownSuggestion(
                f"There is no suggestion {suggestion_id}.", {"id": suggestion_id}
            ) from None
        if row.state == SuggestionState.DISMISSED:
            return row
        if row.state != SuggestionState.OPEN:
            raise SuggestionNotOpen(
                f"Suggestion {row.pk} is {row.state}: it cannot be dismissed.",
                {"state": row.state},
            )
        row.state = SuggestionState.DISMISSED
        row.decided_at = timezone.now()
        row.decided_by_id = actor.user_id
        row.decided_by_label = actor.label
        fields = ["state", "decided_at", "decided_by", "decided_by_label"]
        if note:
            row.reason = {**row.reason, "dismissal_note": note}
            fields.append("reason")
        row.save(update_fields=fields)
    return row
