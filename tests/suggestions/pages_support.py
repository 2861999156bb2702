"""Suggestion rows as a review would leave them, made directly for the page and API tests
(the reviews themselves are tested in test_reviews.py)."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from suggestions.models import Review, ReviewKind, Suggestion, SuggestionState
from suggestions.plan import Reason


def review() -> Review:
    return Review.objects.create(kind=ReviewKind.MANUAL, cost_of_lost_sale=Decimal("20.00"))


def suggest(
    variant,
    lane,
    *,
    quantity: int = 5,
    value: str = "40.00",
    cost: str = "6.00",
    state: str = SuggestionState.OPEN,
    made_by: Review | None = None,
) -> Suggestion:
    reason = Reason(
        limited_by="forecast",
        donor_cover_before_days=20.0,
        donor_cover_after_days=15.0,
        donor_minimum=7,
        receiver_cover_before_days=1.5,
        receiver_cover_after_days=9.0,
        receiver_risk_before=0.8,
        receiver_risk_after=0.05,
        expected_units_saved=2.0,
        value=float(value),
        cost=float(cost),
    )
    source, destination = lane.source, lane.destination
    return Suggestion.objects.create(
        review=made_by or review(),
        variant=variant,
        source=source,
        destination=destination,
        lane=lane,
        quantity=quantity,
        expected_arrival=timezone.localdate() + timedelta(days=lane.lead_time_days),
        value=Decimal(value),
        cost=Decimal(cost),
        reason=reason.as_dict(),
        reason_text=reason.text(source=source.code, destination=destination.code),
        situation_key=f"{variant.pk}-{source.pk}-{destination.pk}",
        state=state,
    )
