from celery import shared_task

from stock.services.history import refresh_snapshots


@shared_task(acks_late=True, ignore_result=True)
def snapshot_stock_task() -> int:
    """Rewrite the daily closes that changed since the last run (yesterday and today at least).

    Safe to run twice or concurrently: snapshots are upserted figures derived from the
    ledger, so a repeat writes the same values. Beat runs it hourly (settings.base).
    """
    return refresh_snapshots()
