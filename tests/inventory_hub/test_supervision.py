"""runhub's restart policy, its report on /healthz, and the embedded worker's restart."""

import re
import time

import pytest
from django.core.cache import cache
from django.test import override_settings

from inventory_hub import supervision
from inventory_hub.celery import app as celery_app
from inventory_hub.companions import EMBEDDED_NAME, EmbeddedCompanions
from tests.inventory_hub.probe import probe_key, remember_token_task


@pytest.fixture(autouse=True)
def no_supervised_processes():
    supervision.forget()
    yield
    supervision.forget()


def policy(**overrides) -> supervision.RestartPolicy:
    fields = {"backoff_seconds": 1.0, "max_backoff_seconds": 5.0, "quick_seconds": 30.0}
    return supervision.RestartPolicy(**(fields | {"limit": 5} | overrides))


def test_quick_deaths_double_the_backoff_up_to_its_cap_then_give_up():
    restarts = policy()

    delays = [restarts.after_death(uptime=2.0) for _ in range(5)]

    assert delays == [1.0, 2.0, 4.0, 5.0, None]


def test_a_process_that_ran_long_enough_starts_the_count_again():
    restarts = policy(limit=3)
    restarts.after_death(uptime=1.0)
    restarts.after_death(uptime=1.0)

    after_a_long_run = restarts.after_death(uptime=31.0)
    then_quick = [restarts.after_death(uptime=1.0) for _ in range(3)]

    assert after_a_long_run == 1.0
    assert then_quick == [1.0, 2.0, None]


@pytest.mark.django_db
def test_healthz_names_the_process_that_is_down_since_when_and_its_restarts(client):
    supervision.record_started(name="worker", pid=4100)
    supervision.record_started(name="beat", pid=4101)
    supervision.record_died(
        name="worker", reason="pid 4100 exited with code -9", restart_at=time.time() + 2
    )

    down = client.get("/healthz")
    supervision.record_started(name="worker", pid=4200)
    back = client.get("/healthz")

    # The web process still serves: a dead worker is degraded, not down.
    assert down.status_code == 200
    assert down.json()["status"] == "degraded"
    assert "processes" in down.json()["degraded"]
    detail = down.json()["checks"]["processes"]
    assert detail["ok"] is False
    assert re.fullmatch(
        r"worker down since \S+ \(pid 4100 exited with code -9\), restarting in [\d.]+ s, "
        r"0 restarts so far; beat \(pid 4101\) up since \S+, 0 restarts so far",
        detail["detail"],
    ), detail
    assert back.json()["checks"]["processes"]["ok"] is True
    assert back.json()["checks"]["processes"]["detail"].startswith("worker (pid 4200) up since ")
    assert ", 1 restart so far;" in back.json()["checks"]["processes"]["detail"]


@pytest.mark.django_db
def test_healthz_leaves_the_check_out_when_nothing_is_supervised(client):
    assert "processes" not in client.get("/healthz").json()["checks"]


@pytest.fixture
def empty_memory_broker():
    # The memory broker is shared by the whole test process: drop what other tests enqueued.
    celery_app.control.purge()
    yield
    celery_app.control.purge()


def wait_for(condition, *, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.05)
    raise AssertionError(f"not {what} within {seconds} s")


@override_settings(HUB_RESTART_BACKOFF_SECONDS=0)
def test_embedded_worker_that_dies_is_replaced_and_consumes_again(empty_memory_broker):
    companions = EmbeddedCompanions()
    companions.start()
    try:
        first = companions._worker
        # The worker's thread ends while nobody asked it to stop: a crash, as runhub sees it.
        first._controller.stop()

        def restarted():
            failure = companions.failure()
            assert failure is None, failure
            [status] = supervision.statuses()
            return status.is_running and status.restarts == 1 and status

        status = wait_for(restarted, seconds=30, what="restarted")
        remember_token_task.delay("after-restart")
        wait_for(lambda: cache.get(probe_key("after-restart")), seconds=10, what="consumed")
    finally:
        companions.stop()

    assert status.name == EMBEDDED_NAME
    assert companions._worker is not first
    assert not first._beat.is_alive(), "the dead pair's beat was stopped: one beat at a time"
    assert supervision.statuses() == []
