import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings

from inventory_hub.health import CHECK_TIMEOUT_SECONDS, record_heartbeat

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parents[2]
LIMIT = settings.HUB_HEARTBEAT_SECONDS * 3
# Nothing listens here: connections are refused at once.
CLOSED_REDIS_URL = "redis://127.0.0.1:6390/0"


def redis_settings(url: str) -> dict:
    """The channel layer and cache that base settings use when REDIS_URL is set."""
    return {
        "CHANNEL_LAYERS": {
            "default": {
                "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
                "CONFIG": {"hosts": [{"address": url, "socket_connect_timeout": 2}]},
            }
        },
        "CACHES": {
            "default": {
                "BACKEND": "inventory_hub.cache.FailOpenRedisCache",
                "LOCATION": url,
                "KEY_PREFIX": "hub-test",
                "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
            }
        },
    }


def get_healthz(client) -> tuple[int, dict, float]:
    started = time.monotonic()
    response = client.get("/healthz")
    return response.status_code, response.json(), time.monotonic() - started


def test_healthz_is_ok_when_every_part_answers_and_the_heartbeat_is_fresh(client):
    record_heartbeat(at=time.time() - 10)

    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    age = re.fullmatch(
        rf"last heartbeat ([\d.]+) s ago \(limit {LIMIT} s\)", body["checks"]["worker"]["detail"]
    )
    # Recorded 10 s back; a first request on a loaded machine may add a second or so.
    assert age is not None and 10 <= float(age.group(1)) < 12, body["checks"]["worker"]
    body["checks"]["worker"]["detail"] = "(checked above)"
    assert body == {
        "status": "ok",
        "checks": {
            "database": {"ok": True, "detail": f"{connection.vendor} answered"},
            "channel_layer": {
                "ok": True,
                "detail": "InMemoryChannelLayer: message sent and received",
            },
            "broker": {"ok": True, "detail": "memory answered"},
            "cache": {"ok": True, "detail": "LocMemCache in process"},
            "worker": {"ok": True, "detail": "(checked above)"},
        },
    }
    assert "no-cache" in response["Cache-Control"]


def test_healthz_is_degraded_naming_the_worker_when_no_heartbeat_was_recorded(client):
    status, body, _ = get_healthz(client)

    # The hub still answers without a worker (webhooks wait in the inbox): degraded, not down.
    assert status == 200
    assert body["status"] == "degraded"
    assert body["degraded"] == ["worker"]
    assert body["checks"]["worker"] == {
        "ok": False,
        "detail": f"no worker heartbeat in the last {LIMIT} s",
    }
    assert [name for name, check in body["checks"].items() if not check["ok"]] == ["worker"]


def test_healthz_is_degraded_when_the_last_heartbeat_is_older_than_three_periods(client):
    record_heartbeat(at=time.time() - LIMIT - 5)

    status, body, _ = get_healthz(client)

    assert (status, body["status"]) == (200, "degraded")
    assert body["checks"]["worker"] == {
        "ok": False,
        "detail": f"last heartbeat {LIMIT + 5:.1f} s ago (limit {LIMIT} s)",
    }


def test_heartbeat_task_makes_an_unhealthy_worker_check_healthy(client):
    from inventory_hub.tasks import heartbeat_task

    assert get_healthz(client)[1]["status"] == "degraded"

    heartbeat_task.apply()

    status, body, _ = get_healthz(client)
    assert (status, body["status"]) == (200, "ok")
    assert body["checks"]["worker"]["ok"] is True


@pytest.mark.redis
def test_healthz_is_ok_against_a_real_redis(client, use_broker):
    use_broker(settings.TEST_REDIS_URL)
    with override_settings(**redis_settings(settings.TEST_REDIS_URL)):
        record_heartbeat()

        status, body, _ = get_healthz(client)

    assert status == 200, body
    assert body["checks"]["channel_layer"] == {
        "ok": True,
        "detail": "RedisPubSubChannelLayer: message sent and received",
    }
    assert body["checks"]["broker"] == {"ok": True, "detail": "redis answered"}
    assert body["checks"]["cache"] == {"ok": True, "detail": "redis answered"}
    assert body["checks"]["worker"]["ok"] is True


def test_healthz_reports_a_stopped_redis_quickly(client, use_broker):
    use_broker(CLOSED_REDIS_URL)
    with override_settings(**redis_settings(CLOSED_REDIS_URL)):
        status, body, elapsed = get_healthz(client)

    # The database answers, so the hub serves: degraded, naming what is down.
    assert (status, body["status"]) == (200, "degraded")
    assert elapsed < 3
    failed = {name: check["detail"] for name, check in body["checks"].items() if not check["ok"]}
    assert (
        sorted(failed) == sorted(body["degraded"]) == ["broker", "cache", "channel_layer", "worker"]
    )
    for name in ("broker", "cache", "channel_layer"):
        assert "Error 111 connecting to 127.0.0.1:6390." in failed[name], failed
    assert failed["worker"] == "unknown: the cache holding heartbeats is down"


@pytest.fixture
def silent_redis():
    """A TCP port that accepts connections and never answers: a hung Redis."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


def test_healthz_gives_up_on_a_redis_that_never_answers(client, use_broker, silent_redis):
    use_broker(silent_redis)
    with override_settings(**redis_settings(silent_redis)):
        status, body, elapsed = get_healthz(client)

    assert (status, body["status"]) == (200, "degraded")
    assert elapsed < 3
    no_answer = {"ok": False, "detail": f"no answer within {CHECK_TIMEOUT_SECONDS} s"}
    assert body["checks"]["channel_layer"] == no_answer
    assert body["checks"]["broker"] == no_answer
    assert body["checks"]["cache"]["detail"].startswith("TimeoutError: Timeout reading from socket")
    assert body["checks"]["worker"] == {
        "ok": False,
        "detail": "unknown: the cache holding heartbeats is down",
    }
    assert body["checks"]["database"]["ok"] is True


def test_healthz_reports_an_unreachable_database():
    # The test database cannot be taken away from this process, so ask a fresh one.
    script = (
        "import django, json, time; django.setup();"
        "from django.test import RequestFactory;"
        "from inventory_hub.health import healthz;"
        "started = time.monotonic();"
        "response = healthz(RequestFactory().get('/healthz'));"
        "elapsed = time.monotonic() - started;"
        "print(json.dumps({'http_status': response.status_code, 'elapsed': elapsed,"
        " **json.loads(response.content)}))"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "inventory_hub.settings.local",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:6391/nowhere",
        "HUB_HEARTBEAT_SECONDS": "15",
    }
    env.pop("REDIS_URL", None)

    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True
    )

    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout.strip().splitlines()[-1])
    assert body["http_status"] == 503
    assert body["status"] == "unhealthy"
    database = body["checks"]["database"]
    assert database["ok"] is False
    assert database["detail"].startswith("OperationalError: ")
    assert "6391" in database["detail"]
    assert body["checks"]["channel_layer"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is True
    assert body["elapsed"] < 3
