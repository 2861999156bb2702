"""The demo's forecasts and first review, so that the Suggestions page, the overview's tile
and the variant pages show something on a fresh `make run`.

The demo's history keeps every warehouse well stocked (its receipts follow its sales), so a
review of it alone rightly suggests nothing. Today, a roof leak at two warehouses has
soaked the shelf of a few of their best sellers (`stage_leaks`, in the load's transaction,
before the alerts are evaluated): the units are kept as unsellable, and the review finds
what the lanes from the other warehouses can save.

The forecasts and the review run after the load's transaction has committed: the forecasts
read the ledger, and the review reads the forecasts, stock and lanes. Everything goes
through the services (`stock.services`, `suggestions.services`). Idempotent: the leak is
staged only with the history, and the review runs only while the hub has no review at
all, so a second load changes nothing and the merchant's decisions stay.
"""

from dataclasses import dataclass
from datetime import date

from stock.actors import Actor
from stock.models import ReasonCode, StockLevel
from stock.services.movements import mark_unsellable
from suggestions.models import Review, ReviewKind, Suggestion, SuggestionState
from warehouses.models import Warehouse

ACTOR = Actor.system("demo data")
# Where the roof leaked, and the shelves it soaked.
LEAKS = {
    "BER": ("STN-SHEET-Q-WHT", "STN-SHEET-K-WHT"),
    "RNO": ("PCL-SHEET-Q-WHT", "PCL-SHEET-K-WHT", "STN-SHEET-Q-WHT"),
}
# Units left sellable on a soaked shelf.
LEFT_SELLABLE = 1
LEAK_NOTE = "Roof leak over aisle 4: the soaked units are kept apart until they are sorted."


def stage_leaks(warehouses: dict[str, Warehouse]) -> int:
    """Mark all but `LEFT_SELLABLE` units of each soaked shelf unsellable; the number of
    levels it touched."""
    touched = 0
    for code, skus in LEAKS.items():
        levels = StockLevel.objects.filter(warehouse=warehouses[code], variant__sku__in=skus)
        for level in levels.select_related("variant", "warehouse").order_by("variant__sku"):
            quantity = level.available - LEFT_SELLABLE
            if quantity <= 0:
                continue
            mark_unsellable(
                variant=level.variant,
                warehouse=level.warehouse,
                quantity=quantity,
                actor=ACTOR,
                reason=ReasonCode.DAMAGED,
                note=LEAK_NOTE,
                reference=f"DEMO-LEAK-{code}-{level.variant.sku}",
            )
            touched += 1
    return touched


@dataclass(frozen=True, slots=True)
class DemoSuggestions:
    forecasts_written: int = 0
    suggestions_made: int = 0
    suggestions_open: int = 0
    runtime_ms: int = 0


def ensure_suggestions(*, today: date) -> DemoSuggestions:
    """Forecast every level and run one review, unless a review ran already."""
    # Loaded here: the forecasting library and the solver stay out of the web process.
    from suggestions.services.forecasts import refresh_forecasts
    from suggestions.services.reviews import run_review

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
