"""The push worker against a real HTTP fake store: coalescing, faults, breaker, crashes."""

import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from connectors.engine.http import RateLimitedSession
from connectors.engine.push import claim_rows, push_outbox
from connectors.models import (
    CircuitState,
    Connector,
    OutboxItem,
    OutboxState,
    SkuMapping,
    SyncProblem,
    SyncProblemKind,
    SyncRun,
)
from stock.actors import Actor
from stock.selectors import channel_salable_many
from stock.services import adjust_stock, receive_stock
from stock.services.orders import OrderLineInput, place_order
from tests.connectors import engine_fakes
from tests.connectors.engine_fakes import (
    SOURCES_KIND,
    make_hub,
)
from tests.fakes.server import Fault
from tests.warehouses.factories import ChannelWarehouseFactory, SalesChannelFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.postgres,
    pytest.mark.usefixtures("engine_kinds", "fast_push"),
]
ACTOR = Actor.system("tests")
fake_store = engine_fakes.fake_store
fast_push = engine_fakes.fast_push
engine_kinds = engine_fakes.engine_kinds


def salable(hub, variant=None) -> int:
    variant = variant or hub.variant
    return channel_salable_many(hub.channel, [variant])[variant.pk].salable


def push_until_idle(connector, *, seconds: float = 15.0):
    """Run the worker (as beat and kicks would) until nothing is pending or time is up."""
    deadline = time.monotonic() + seconds
    reports = []
    while time.monotonic() < deadline:
        reports.append(push_outbox(connector_id=connector.pk))
        if not OutboxItem.objects.filter(connector=connector, state=OutboxState.PENDING).exists():
            return reports
        time.sleep(0.05)
    raise AssertionError(f"still pending after {seconds} s: {reports[-3:]}")


def outbox_states(connector) -> dict[str, int]:
    counts: dict[str, int] = {}
    for state in OutboxItem.objects.filter(connector=connector).values_list("state", flat=True):
        counts[state] = counts.get(state, 0) + 1
    return counts


def test_many_changes_of_one_sku_reach_the_store_as_one_push_of_the_final_value(fake_store):
    hub = make_hub(fake_store, on_hand=10)
    for quantity in (1, 2, 3, 4):
        receive_stock(variant=hub.variant, warehouse=hub.warehouse, quantity=quantity, actor=ACTOR)

    push_until_idle(hub.connector)

    assert fake_store.applied_to(hub.mapping.remote_id) == [20]
    assert len(fake_store.requests_to("/stock")) == 1
    mapping = SkuMapping.objects.get(pk=hub.mapping.pk)
    assert mapping.last_confirmed == {"": 20}
    assert mapping.last_pushed == {"": 20}
    assert outbox_states(hub.connector) == {OutboxState.SENT: 1}
    run = SyncRun.objects.get(connector=hub.connector)
    assert (run.is_ok, run.item_count, run.changed_count) == (True, 1, 1)


def test_a_value_equal_to_what_the_store_confirmed_is_not_pushed(fake_store):
    hub = make_hub(fake_store, on_hand=10)
    SkuMapping.objects.filter(pk=hub.mapping.pk).update(
        last_confirmed={"": 12}, last_confirmed_status={"": {"status": None, "forced_status": None}}
    )
    receive_stock(variant=hub.variant, warehouse=hub.warehouse, quantity=3, actor=ACTOR)
    adjust_stock(
        variant=hub.variant, warehouse=hub.warehouse, delta=-1, reason="damaged", actor=ACTOR
    )

    push_until_idle(hub.connector)

    assert salable(hub) == 12
    assert fake_store.requests_to("/stock") == []
    assert outbox_states(hub.connector) == {OutboxState.SENT: 1}
    assert SyncRun.objects.filter(connector=hub.connector).count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_change_during_the_push_sends_the_row_again(fake_store):
    hub = make_hub(fake_store, on_hand=10)
    receive_stock(variant=hub.variant, warehouse=hub.warehouse, quantity=1, actor=ACTOR)
    original = fake_store._push

    def push_then_change(request):
        answer = original(request)
        if len(fake_store.applied) == 1:
            # Commits while the worker waits for this answer.
            receive_stock(variant=hub.variant, warehouse=hub.warehouse, quantity=5, actor=ACTOR)
            connection.close()  # this server thread's own connection
        return answer

    fake_store.routes[0] = ("POST", fake_store.routes[0][1], push_then_change)

    push_until_idle(hub.connector)

    assert fake_store.applied_to(hub.mapping.remote_id) == [11, 16]
    assert outbox_states(hub.connector) == {OutboxState.SENT: 1}


@pytest.mark.django_db(transaction=True)
def test_faults_then_recovery_deliver_every_sku_once_in_its_final_value(fake_store, fast_push):
    hub = make_hub(fake_store, skus=("A", "B", "C"), on_hand=10, timeout_seconds=0.3)
    fake_store.inject(Fault(status=500, times=2))
    fake_store.inject(Fault(status=429, times=1, retry_after="0.3"))
    fake_store.inject(Fault(status=500, times=1, hang_seconds=0.6))  # past the 0.3 s timeout
    fake_store.inject(Fault(status=503, times=1))
    for round_number in range(3):
        for variant in hub.variants:
            receive_stock(
                variant=variant, warehouse=hub.warehouse, quantity=round_number + 1, actor=ACTOR
            )
        push_outbox(connector_id=hub.connector.pk)

    push_until_idle(hub.connector)

    assert fake_store.fault_hits == 5
    for variant, mapping in zip(hub.variants, hub.mappings, strict=True):
        assert salable(hub, variant) == 16
        assert fake_store.values[(mapping.remote_id, "")] == 16
        # Failed requests applied nothing; each SKU's final value arrived exactly once.
        assert fake_store.applied_to(mapping.remote_id).count(16) == 1
    assert outbox_states(hub.connector) == {OutboxState.SENT: 3}
    runs = list(SyncRun.objects.filter(connector=hub.connector).order_by("started_at", "id"))
    assert [run.is_ok for run in runs][-1] is True
    assert sum(1 for run in runs if not run.is_ok) == 5
    connector = Connector.objects.get(pk=hub.connector.pk)
    assert connector.circuit_state == CircuitState.CLOSED
    assert connector.consecutive_failures == 0
    assert connector.paused_until is None


@pytest.mark.django_db(transaction=True)
def test_breaker_opens_after_consecutive_failures_and_closes_by_itself(fake_store, fast_push):
    hub = make_hub(fake_store, skus=("A", "B"), on_hand=10)
    fake_store.inject(Fault(status=500, times=5))
    for variant in hub.variants:
        receive_stock(variant=variant, warehouse=hub.warehouse, quantity=1, actor=ACTOR)

    states = []
    opened_requests = None
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        report = push_outbox(connector_id=hub.connector.pk)
        connector = Connector.objects.get(pk=hub.connector.pk)
        states.append(connector.circuit_state)
        if connector.circuit_state == CircuitState.OPEN and opened_requests is None:
            opened_requests = len(fake_store.requests)
            # While open and cooling down, the worker does not call the store at all.
            assert push_outbox(connector_id=hub.connector.pk).status == "circuit_open"
            assert len(fake_store.requests) == opened_requests
        if (
            report.status == "done"
            and not OutboxItem.objects.filter(
                connector=hub.connector, state=OutboxState.PENDING
            ).exists()
        ):
            break
        time.sleep(0.05)

    assert CircuitState.OPEN in states
    assert states[-1] == CircuitState.CLOSED
    assert fake_store.fault_hits == 5
    for variant, mapping in zip(hub.variants, hub.mappings, strict=True):
        assert fake_store.values[(mapping.remote_id, "")] == salable(hub, variant) == 11
    problem = SyncProblem.objects.get(connector=hub.connector, kind=SyncProblemKind.CIRCUIT_OPEN)
    assert problem.resolved_at is not None
    assert not SyncProblem.objects.filter(
        connector=hub.connector, resolved_at__isnull=True
    ).exists()


@pytest.mark.django_db(transaction=True)
def test_half_open_trial_that_fails_reopens_with_a_longer_cool_down(fake_store, settings):
    settings.CONNECTORS_PUSH = {
        "backoff_seconds": 0.01,
        "max_backoff_seconds": 0.01,
        "failures_to_open": 2,
        "breaker_cooldown_seconds": 0.2,
        "breaker_max_cooldown_seconds": 10,
    }
    hub = make_hub(fake_store, on_hand=10)
    fake_store.inject(Fault(status=500, times=3))
    receive_stock(variant=hub.variant, warehouse=hub.warehouse, quantity=1, actor=ACTOR)
    for _ in range(2):
        push_outbox(connector_id=hub.connector.pk)
        time.sleep(0.03)
    opened = Connector.objects.get(pk=hub.connector.pk)
    assert opened.circuit_state == CircuitState.OPEN

    time.sleep(0.25)
    trial = push_outbox(connector_id=hub.connector.pk)
    reopened = Connector.objects.get(pk=hub.connector.pk)
    time.sleep(0.25)
    still_cooling = push_outbox(connector_id=hub.connector.pk)

    assert trial.status == "failed"
    assert reopened.circuit_state == CircuitState.OPEN
    assert reopened.circuit_opened_at > opened.circuit_opened_at
    assert still_cooling.status == "circuit_open"  # 0.4 s now, not 0.2 s
    time.sleep(0.2)
    push_until_idle(hub.connector)
    assert fake_store.values[(hub.mapping.remote_id, "")] == 11


@pytest.mark.django_db(transaction=True)
def test_429_pauses_the_connector_until_retry_after(fake_store):
    hub = make_hub(fake_store, on_hand=10)
    fake_store.inject(Fault(status=429, times=1, retry_after="0.5"))
    receive_stock(variant=hub.variant, warehouse=hub.warehouse, quantity=1, actor=ACTOR)

    throttled = push_outbox(connector_id=hub.connector.pk)
    paused = push_outbox(connector_id=hub.connector.pk)
    requests_while_paused = len(fake_store.requests)
    time.sleep(0.6)
    push_until_idle(hub.connector)

    assert (throttled.status, paused.status) == ("throttled", "paused")
    assert requests_while_paused == 1
    assert fake_store.values[(hub.mapping.remote_id, "")] == 11
    assert Connector.objects.get(pk=hub.connector.pk).consecutive_failures == 0


def test_a_rejected_item_goes_dead_without_blocking_the_others(fake_store):
    hub = make_hub(fake_store, skus=("A", "B"), on_hand=10)
    fake_store.rejected_ids.add(hub.mappings[0].remote_id)
    for variant in hub.variants:
        receive_stock(variant=variant, warehouse=hub.warehouse, quantity=1, actor=ACTOR)

    push_until_idle(hub.connector)

    assert fake_store.values == {(hub.mappings[1].remote_id, ""): 11}
    assert outbox_states(hub.connector) == {OutboxState.DEAD: 1, OutboxState.SENT: 1}
    problem = SyncProblem.objects.get(connector=hub.connector, kind=SyncProblemKind.PUSH_REJECTED)
    assert hub.mappings[0].remote_id in problem.message


@pytest.mark.django_db(transaction=True)
def test_a_worker_that_abandons_its_claim_loses_and_doubles_nothing(fake_store, settings):
    settings.CONNECTORS_PUSH = {"lease_seconds": 0.5}
    hub = make_hub(fake_store, on_hand=10)
    receive_stock(variant=hub.variant, warehouse=hub.warehouse, quantity=2, actor=ACTOR)
    claimed = claim_rows(hub.connector, limit=10, lease_seconds=0.5)  # then "dies"

    during_lease = push_outbox(connector_id=hub.connector.pk)
    requests_during_lease = len(fake_store.requests)
    time.sleep(0.6)
    push_until_idle(hub.connector)

    assert len(claimed) == 1
    assert during_lease.claimed == 0
    assert requests_during_lease == 0
    assert fake_store.applied_to(hub.mapping.remote_id) == [12]
    row = OutboxItem.objects.get(connector=hub.connector)
    assert (row.state, row.attempts) == (OutboxState.SENT, 2)


def test_a_partner_with_nowhere_to_push_to_is_one_problem_not_one_per_change():
    # Saved before the hub refused such settings: the hub owns its stock, no push_url.
    hub = make_hub(None, skus=("A", "B"), kind="partner")

    for variant in [*hub.variants, hub.variants[0]]:
        receive_stock(variant=variant, warehouse=hub.warehouse, quantity=1, actor=ACTOR)
        push_until_idle(hub.connector)

    assert outbox_states(hub.connector) == {OutboxState.DEAD: 3}
    problems = SyncProblem.objects.filter(
        connector=hub.connector, kind=SyncProblemKind.PUSH_REJECTED, resolved_at__isnull=True
    )
    assert problems.count() == 1
    assert "push_url is not configured" in problems.get().message
    connector = Connector.objects.get(pk=hub.connector.pk)
    assert (connector.last_push_at, connector.consecutive_failures) == (None, 0)


def test_per_source_push_adds_back_only_the_connector_channels_own_holds(fake_store):
    hub = make_hub(
        fake_store, on_hand=10, kind=SOURCES_KIND, locations=[("src-a", None), ("src-b", None)]
    )
    second = hub.warehouses[1]
    receive_stock(variant=hub.variant, warehouse=second, quantity=4, actor=ACTOR)
    other_channel = SalesChannelFactory(code="other-channel")
    ChannelWarehouseFactory(channel=other_channel, warehouse=hub.warehouse, priority=1)
    place_order(
        channel=hub.channel,
        reference="own-1",
        lines=[OrderLineInput(sku=hub.variant.sku, quantity=3)],
        actor=ACTOR,
    )
    place_order(
        channel=other_channel,
        reference="other-1",
        lines=[OrderLineInput(sku=hub.variant.sku, quantity=2)],
        actor=ACTOR,
    )

    push_until_idle(hub.connector)

    # src-a: on hand 10, 3 held for this channel (added back), 2 for another (not).
    assert fake_store.values[(hub.mapping.remote_id, "src-a")] == 8
    assert fake_store.values[(hub.mapping.remote_id, "src-b")] == 4
    assert fake_store.statuses[(hub.mapping.remote_id, "src-a")]["status"] == "in_stock"


def test_store_owned_locations_are_never_pushed(fake_store):
    hub = make_hub(
        fake_store, on_hand=10, kind=SOURCES_KIND, locations=[("hub-src", None), ("shop", True)]
    )
    receive_stock(variant=hub.variant, warehouse=hub.warehouses[1], quantity=5, actor=ACTOR)
    receive_stock(variant=hub.variant, warehouse=hub.warehouse, quantity=1, actor=ACTOR)

    push_until_idle(hub.connector)

    assert fake_store.values == {(hub.mapping.remote_id, "hub-src"): 11}


def test_rate_limited_session_spaces_requests():
    now = [0.0]
    slept = []

    def sleep(seconds):
        slept.append(round(seconds, 3))
        now[0] += seconds

    session = RateLimitedSession(
        requests_per_second=4, timeout_seconds=1, sleep=sleep, clock=lambda: now[0]
    )
    for _ in range(4):
        session._wait_for_token()
    now[0] += 1.0  # idle for a second: one token back (burst 1), not four
    session._wait_for_token()
    session._wait_for_token()

    assert slept == [0.25, 0.25, 0.25, 0.25]


def test_claimed_rows_carry_a_lease_and_are_skipped_by_others(fake_store):
    hub = make_hub(fake_store, skus=("A", "B"), on_hand=1)
    for variant in hub.variants:
        receive_stock(variant=variant, warehouse=hub.warehouse, quantity=1, actor=ACTOR)

    first = claim_rows(hub.connector, limit=1, lease_seconds=60)
    second = claim_rows(hub.connector, limit=5, lease_seconds=60)
    third = claim_rows(hub.connector, limit=5, lease_seconds=60)

    assert len(first) == len(second) == 1
    assert first[0].id != second[0].id
    assert third == []
    leased = OutboxItem.objects.get(pk=first[0].id)
    assert leased.claimed_until > timezone.now() + timedelta(seconds=50)


WORKER = """
import os, sys
import django
django.setup()
from django.conf import settings
settings.CONNECTORS_PUSH = {"lease_seconds": float(sys.argv[2])}
from tests.connectors.engine_fakes import register_test_kinds
register_test_kinds()
from connectors.engine.push import push_outbox
print(push_outbox(connector_id=int(sys.argv[1])), flush=True)
"""


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_push_loses_and_doubles_nothing(fake_store, settings):
    """A real worker process is SIGKILLed while the store holds its request open; the
    store applies that request afterwards (the worker never hears of it)."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from tests.browser_support import database_url

    hub = make_hub(fake_store, on_hand=10, timeout_seconds=30)
    receive_stock(variant=hub.variant, warehouse=hub.warehouse, quantity=2, actor=ACTOR)
    fake_store.inject(Fault(status=0, times=1, hang_seconds=3))  # hang, then apply
    lease = 5.0
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(hub.connector.pk), str(lease)],
        cwd=Path(__file__).resolve().parents[2],
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "inventory_hub.settings.test",
            "DATABASE_URL": database_url(settings.DATABASES["default"]),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while not fake_store.requests_to("/stock") and time.monotonic() < deadline:
            assert worker.poll() is None, worker.communicate()
            time.sleep(0.05)
        assert fake_store.requests_to("/stock"), "the worker never reached the store"
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
    killed_at = time.monotonic()

    row = OutboxItem.objects.get(connector=hub.connector)
    assert (row.state, row.attempts) == (OutboxState.PENDING, 1)
    assert row.claimed_until is not None
    time.sleep(0.5)  # the server notices the dead session and drops its advisory lock
    during_lease = push_outbox(connector_id=hub.connector.pk)
    assert (during_lease.status, during_lease.claimed) == ("done", 0)
    while time.monotonic() - killed_at < lease + 0.2:
        time.sleep(0.1)
    push_until_idle(hub.connector)

    # The dead worker's request was applied by the store after all; the retry sent the
    # same absolute value again, so the store holds it once, not twice.
    assert fake_store.applied_to(hub.mapping.remote_id) == [12, 12]
    assert fake_store.values[(hub.mapping.remote_id, "")] == salable(hub) == 12
    row = OutboxItem.objects.get(connector=hub.connector)
    assert (row.state, row.attempts) == (OutboxState.SENT, 2)
    assert SkuMapping.objects.get(pk=hub.mapping.pk).last_confirmed == {"": 12}
