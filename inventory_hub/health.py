"""/healthz: database, channel layer, broker and worker heartbeat, as JSON."""

import time
import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET

HEARTBEAT_KEY = "hub:worker-heartbeat"


def record_heartbeat() -> float:
    now = time.time()
    # Kept for several periods so one late beat does not flap the health check.
    cache.set(HEARTBEAT_KEY, now, timeout=settings.HUB_HEARTBEAT_SECONDS * 10)
    return now


def _check_database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"ok": True, "vendor": connection.vendor}


def _check_channel_layer() -> dict:
    layer = get_channel_layer()
    if layer is None:
        return {"ok": False, "error": "no channel layer configured"}

    async def round_trip() -> bool:
        channel = await layer.new_channel()
        token = uuid.uuid4().hex
        await layer.send(channel, {"type": "health.ping", "token": token})
        message = await layer.receive(channel)
        return message.get("token") == token

    ok = async_to_sync(round_trip)()
    return {"ok": ok, "backend": type(layer).__name__}


def _check_broker() -> dict:
    from inventory_hub.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        return {"ok": True, "transport": conn.transport_cls}


def _check_worker() -> dict:
    beat = cache.get(HEARTBEAT_KEY)
    if beat is None:
        return {"ok": False, "error": "no heartbeat from a worker yet"}
    age = time.time() - beat
    limit = settings.HUB_HEARTBEAT_SECONDS * 3
    return {"ok": age <= limit, "last_heartbeat_seconds_ago": round(age, 1), "limit": limit}


CHECKS = {
    "database": _check_database,
    "channel_layer": _check_channel_layer,
    "broker": _check_broker,
    "worker": _check_worker,
}


@require_GET
def healthz(request):
    report = {}
    for name, check in CHECKS.items():
        try:
            report[name] = check()
        except Exception as exc:  # a health check reports failures, it never raises
            report[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    healthy = all(item["ok"] for item in report.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unhealthy", "checks": report},
        status=200 if healthy else 503,
    )
