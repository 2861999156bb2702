"""Reads of suggestions for the pages and the API: the list, its groups by lane, and the
figures of the overview's tile. The forecasts and projections are `suggestions.selectors`'.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum

from suggestions.models import Suggestion, SuggestionSettings, SuggestionState
from transfers.models import Lane


def suggestions_list() -> QuerySet[Suggestion]:
    """Every suggestion with what its line shows, by lane and then by value, highest first."""
    return Suggestion.objects.select_related(
        "variant", "variant__product", "source", "destination", "lane", "transfer"
    ).order_by("source__code", "destination__code", "-value", "pk")


def open_suggestions() -> QuerySet[Suggestion]:
    return suggestions_list().filter(state=SuggestionState.OPEN)


@dataclass(slots=True)
class LaneGroup:
    """The open suggestions of one lane: what approving the lane would create."""

    lane: Lane
    suggestions: list[Suggestion] = field(default_factory=list)
    # Whether the reader may approve the lane (set by the page that shows it).
    may_approve: bool = False

    @property
    def units(self) -> int:
        return sum(suggestion.quantity for suggestion in self.suggestions)

    @property
    def value(self) -> Decimal:
        return sum((suggestion.value for suggestion in self.suggestions), Decimal(0))

    @property
    def cost(self) -> Decimal:
        return sum((suggestion.cost for suggestion in self.suggestions), Decimal(0))


def by_lane(suggestions: QuerySet[Suggestion] | list[Suggestion]) -> list[LaneGroup]:
    """The suggestions grouped by lane, lanes by source and destination code."""
    groups: dict[int, LaneGroup] = {}
    for suggestion in suggestions:
        group = groups.get(suggestion.lane_id)
        if group is None:
            group = groups[suggestion.lane_id] = LaneGroup(suggestion.lane)
        group.suggestions.append(suggestion)
    return sorted(
        groups.values(), key=lambda group: (group.lane.source.code, group.lane.destination.code)
    )


def lanes_of_open_suggestions() -> list[LaneGroup]:
    lanes = open_suggestions().select_related("lane__source", "lane__destination")
    return by_lane(lanes)


@dataclass(frozen=True, slots=True)
class OpenFigures:
    count: int
    units: int
    value: Decimal
    cost: Decimal
    lanes: int


def open_figures(warehouse_id: int | None = None) -> OpenFigures:
    """How many suggestions are open, their units, value and cost, and on how many lanes:
    everywhere, or those from or to one warehouse."""
    rows = Suggestion.objects.filter(state=SuggestionState.OPEN)
    if warehouse_id is not None:
        rows = rows.filter(Q(source_id=warehouse_id) | Q(destination_id=warehouse_id))
    totals = rows.aggregate(
        count=Count("pk"),
        units=Sum("quantity"),
        value=Sum("value"),
        cost=Sum("cost"),
        lanes=Count("lane", distinct=True),
    )
    return OpenFigures(
        count=totals["count"],
        units=totals["units"] or 0,
        value=totals["value"] or Decimal(0),
        cost=totals["cost"] or Decimal(0),
        lanes=totals["lanes"],
    )


def suggestions_for_variant(variant_id: int) -> list[Suggestion]:
    return list(open_suggestions().filter(variant_id=variant_id))


def settings_now() -> SuggestionSettings:
    """The settings row, or its defaults before anyone saved it (nothing is written here)."""
    return SuggestionSettings.objects.filter(pk=1).first() or SuggestionSettings(pk=1)
