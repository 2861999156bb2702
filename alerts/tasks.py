"""Celery entry points of the evaluator. Both take ids (or nothing), call a service and
return; both are safe to run twice, so acks_late (a worker lost mid-run runs it again)."""

from celery import shared_task

from alerts.hooks import alerts_changed
from alerts.services.sweep import evaluate_touched, sweep


@shared_task(acks_late=True, ignore_result=True)
def evaluate_task(level_ids: list[int], variant_ids: list[int]) -> None:
    """Evaluate the rules over what a committed change touched (alerts.reactions)."""
    result = evaluate_touched(level_ids=level_ids, variant_ids=variant_ids)
    alerts_changed(result.changed)


@shared_task(acks_late=True, ignore_result=True)
def sweep_task() -> None:
    """Beat: pending durations, time-based conditions, and the safety net for lost kicks."""
    swept = sweep()
    alerts_changed(swept.result.changed)
