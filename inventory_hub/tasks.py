from celery import shared_task
from celery.signals import worker_ready

from inventory_hub.health import record_heartbeat


@shared_task(ignore_result=True)
def heartbeat_task() -> float:
    """Proves a worker is consuming: /healthz checks how old the last beat is.

    Beat sends it every HUB_HEARTBEAT_SECONDS (settings.CELERY_BEAT_SCHEDULE).
    """
    return record_heartbeat()


@worker_ready.connect
def record_heartbeat_when_ready(**kwargs) -> None:
    # Beat's first heartbeat comes one period after start; until then /healthz would call
    # a worker that is already consuming unhealthy.
    record_heartbeat()
