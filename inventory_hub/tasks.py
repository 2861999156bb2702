from celery import shared_task

from inventory_hub.health import record_heartbeat


@shared_task(ignore_result=True)
def heartbeat_task() -> float:
    """Proves a worker is consuming: /healthz checks how old the last beat is."""
    return record_heartbeat()
