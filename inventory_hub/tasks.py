from datetime import timedelta

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.utils import timezone

from inventory_hub.health import record_heartbeat
from inventory_hub.models import IdempotencyKey


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


@shared_task(ignore_result=True, acks_late=True)
def purge_idempotency_keys_task() -> int:
    """Forget Idempotency-Key answers older than IDEMPOTENCY_KEY_HOURS (safe to run twice)."""
    cutoff = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS)
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted
