"""The demo's forecasts and first review, so that the Suggestions page, the overview's tile
and the variant pages show something on a fresh `make run`.

Run after the demo's transaction has committed (history, transfers, snapshots): the
forecasts read the ledger, and the review reads the forecasts, stock and lanes. Both go
through their services (`suggestions.services`). Idempotent: it runs only while the hub has
no review at all, so a second load changes nothing and the merchant's decisions stay.
"""

from dataclasses import dataclass
from datetime import date

from suggestions.models import Review, ReviewKind, Suggestion, SuggestionState
from suggestions.services.forecasts import refresh_forecasts
from suggestions.services.reviews import run_review


@dataclass(frozen=True, slots=True)
class DemoSuggestions:
    forecasts_written: int = 0
    suggestions_made: int = 0
    suggestions_open: int = 0
    runtime_ms: int = 0


def ensure_suggestions(*, today: date) -> DemoSuggestions:
    """Forecast every level and run one review, unless a review ran already."""
    if Review.objects.exists():
        return DemoSuggestions(
            suggestions_open=Suggestion.objects.filter(state=SuggestionState.OPEN).count()
        )
    forecasts = refresh_forecasts(today=today)
    review = run_review(kind=ReviewKind.DAILY, today=today)
    return DemoSuggestions(
        forecasts_written=forecasts,
        suggestions_made=review.suggestions_made,
        suggestions_open=Suggestion.objects.filter(state=SuggestionState.OPEN).count(),
        runtime_ms=review.runtime_ms,
    )
