import asyncio
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.core.cache import cache

from inventory_hub.celery import app as celery_app
from inventory_hub.embedded import EmbeddedChannelLayer, EmbeddedWorker
from tests.inventory_hub.probe import probe_key
from tests.inventory_hub.sqlite_writers import EXPECTED_ROWS

REPO = Path(__file__).resolve().parents[2]


class LoopThread:
    """An event loop in its own thread, standing in for the ASGI server's loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coroutine) -> "asyncio.Future":
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


@pytest.fixture
def server_loop():
    loop_thread = LoopThread()
    yield loop_thread
    loop_thread.close()


def test_layer_delivers_at_once_a_message_sent_from_another_thread(server_loop):
    layer = EmbeddedChannelLayer()
    layer.bind_to_loop(server_loop.loop)
    channel = async_to_sync(layer.new_channel)()
    received = server_loop.run(layer.receive(channel))

    async_to_sync(layer.send)(channel, {"type": "stock.changed", "level": 7})

    # The server's loop has nothing else to do: only a proper wake-up delivers the message.
    assert received.result(timeout=2) == {"type": "stock.changed", "level": 7}


def test_layer_delivers_a_group_message_sent_from_another_thread(server_loop):
    layer = EmbeddedChannelLayer()
    layer.bind_to_loop(server_loop.loop)
    channel = async_to_sync(layer.new_channel)()
    server_loop.run(layer.group_add("warehouse-1", channel)).result(timeout=2)
    received = server_loop.run(layer.receive(channel))

    async_to_sync(layer.group_send)("warehouse-1", {"type": "stock.changed"})

    assert received.result(timeout=2) == {"type": "stock.changed"}


@pytest.fixture
def embedded_worker():
    # The memory broker is shared by the whole test process: drop what other tests enqueued.
    celery_app.control.purge()
    worker = EmbeddedWorker(app=celery_app)
    worker.start()
    yield worker
    worker.stop()
    celery_app.control.purge()


@pytest.mark.urls("tests.inventory_hub.probe")
def test_embedded_worker_runs_a_task_enqueued_by_a_request(embedded_worker, async_client):
    response = async_to_sync(async_client.get)("/probe/token-1")

    assert response.status_code == 202
    deadline = time.monotonic() + 10
    while cache.get(probe_key("token-1")) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cache.get(probe_key("token-1")) == "celery-worker"
    assert embedded_worker.failure() is None


def test_embedded_worker_polls_its_memory_broker_every_tenth_of_a_second(embedded_worker):
    # The memory transport polls, by default once a second: every task, each hop of a sync
    # (inbound drain, then push), would wait up to that long. With REDIS_URL set the test
    # settings once handed it Redis's transport options, and so that default.
    transport = embedded_worker._controller.consumer.connection.transport

    assert transport.driver_type == "memory"
    assert transport.polling_interval == 0.1


def test_embedded_worker_records_a_heartbeat_as_soon_as_it_consumes():
    from inventory_hub.health import HEARTBEAT_KEY

    worker = EmbeddedWorker(app=celery_app)

    worker.start()
    try:
        assert cache.get(HEARTBEAT_KEY) is not None
    finally:
        worker.stop()


def test_embedded_worker_stops_within_seconds_and_is_not_reported_as_failed():
    worker = EmbeddedWorker(app=celery_app)
    worker.start()
    threads_before_stop = {thread.name for thread in threading.enumerate()}

    started = time.monotonic()
    worker.stop()

    assert time.monotonic() - started < 5
    assert {"celery-worker", "Beat"} <= threads_before_stop
    assert {"celery-worker", "Beat"} & {thread.name for thread in threading.enumerate()} == set()
    assert worker.failure() is None


def test_embedded_worker_and_requests_write_one_sqlite_file_without_locking_errors(
    migrated_sqlite, tmp_path
):
    database = tmp_path / "hub.sqlite3"
    shutil.copy(migrated_sqlite, database)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "inventory_hub.settings.local",
        "DATABASE_URL": f"sqlite:///{database}",
    }
    env.pop("REDIS_URL", None)

    result = subprocess.run(
        [sys.executable, "-m", "tests.inventory_hub.sqlite_writers"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome == {"rows": EXPECTED_ROWS, "errors": []}
