from celery import shared_task

from stock.services.history import refresh_snapshots


@shared_task(acks_late=True, ignore_result=True)
def snapshot_stock_task() -> int:
    """Rewrite the daily closes that changed since the last run (yesterday and today at least).

    Safe to run twice or concurrently: snapshots are upserted figures derived from the
    ledger, so a repeat writes the same values. Beat runs it hourly (settings.base).
    """
    return refresh_snapshots()


@shared_task(acks_late=True, ignore_result=True)
def release_expired_holds_task() -> int:
    """Release unpaid orders' holds past their expiry; beat runs it every minute.

    Safe to run twice at once: each batch claims orders with SKIP LOCKED, and release
    movements are unique per allocation.
    """
    from stock.services.orders import release_expired_holds

    return release_expired_holds()
