"""Celery entry points of suggestions. Each takes ids (or nothing), calls services and
returns; each is safe to run twice (a second review refreshes the same open suggestions),
so acks_late.

The services are imported inside the tasks: this module is loaded by every process that
registers tasks (the web process too), which must not load the forecasting library or the
solver.
"""

from celery import shared_task


@shared_task(acks_late=True, ignore_result=True)
def daily_review_task() -> int:
    """Beat, once a day: refresh every forecast, then review every variant. Answers the
    review's id."""
    from suggestions.models import ReviewKind
    from suggestions.services.forecasts import refresh_forecasts
    from suggestions.services.reviews import run_review

    refresh_forecasts()
    return run_review(kind=ReviewKind.DAILY).pk


@shared_task(acks_late=True, ignore_result=True)
def reactive_review_task(variant_ids: list[int]) -> int | None:
    """After stock changes (suggestions.reactions): review those of `variant_ids` still
    projected to run out before the next daily review. Answers the review's id, None when
    none is at risk any more."""
    from suggestions.models import ReviewKind
    from suggestions.reactions import variants_at_risk
    from suggestions.services.reviews import run_review

    at_risk = variants_at_risk(variant_ids)
    if not at_risk:
        return None
    return run_review(kind=ReviewKind.REACTIVE, variant_ids=at_risk).pk
