"""POST /connectors/<id>/inbound/ and inbox processing, through the real view and services."""

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from celery.signals import before_task_publish
from django.db import connection
from django.utils import timezone

from connectors.inbound.queue import (
    INBOX_DRAIN_JOB,
    DrainStatus,
    kick_inbox,
    process_connector_inbox,
    process_inbox_event,
    replay_dead_letters,
)
from connectors.models import (
    Connector,
    InboxEvent,
    InboxState,
    OutboxItem,
    OutboxState,
    SkuMapping,
    SyncProblem,
    SyncProblemKind,
)
from connectors.sync.locks import connector_job_lock
from connectors.tasks import sweep_inbox_task
from stock.actors import Actor
from stock.models import MovementSource, Order, OrderStatus, ReasonCode, StockMovement
from stock.selectors import channel_salable_many
from tests.connectors import engine_fakes
from tests.connectors.engine_fakes import SECRET, SOURCES_KIND, make_hub, sign
from tests.stock.factories import balance_of, ledger_ids

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.postgres,
    pytest.mark.usefixtures("engine_kinds"),
]
ACTOR = Actor.system("tests")
engine_kinds = engine_fakes.engine_kinds
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def deliver(client, connector, payload, *, delivery="d-1", secret=SECRET, raw=None, **headers):
    body = raw if raw is not None else json.dumps(payload).encode()
    signature = headers.pop("signature", "sha256=" + sign(secret, body))
    return client.post(
        f"/connectors/{connector.pk}/inbound/",
        data=body,
        content_type="application/json",
        headers={"X-Test-Signature": signature, "X-Test-Delivery": delivery, **headers},
    )


def process_all():
    for event_id in InboxEvent.objects.filter(
        state__in=[InboxState.RECEIVED, InboxState.FAILED]
    ).values_list("pk", flat=True):
        process_inbox_event(event_id=event_id)


def snapshot(hub, quantity, *, location="", updated_at=T0, mapping=None):
    mapping = mapping or hub.mapping
    return {
        "topic": "stock",
        "stock": [
            {
                "sku": mapping.variant.sku,
                "remote_id": mapping.remote_id,
                "quantity": quantity,
                "location": location,
                "updated_at": updated_at.isoformat() if updated_at else None,
            }
        ],
    }


def order(reference, state, sku, quantity=1):
    return {
        "topic": "order",
        "orders": [
            {"reference": reference, "state": state, "lines": [{"sku": sku, "quantity": quantity}]}
        ],
    }


# --- Receiving --------------------------------------------------------------------------------


def test_bad_signature_is_401_and_stores_nothing(client, django_capture_on_commit_callbacks):
    hub = make_hub(None)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = deliver(client, hub.connector, order("1", "hold", hub.variant.sku), secret="x")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "bad_signature"
    assert InboxEvent.objects.count() == 0
    assert callbacks == []
    problem = SyncProblem.objects.get(connector=hub.connector)
    assert problem.kind == SyncProblemKind.BAD_SIGNATURE


def test_ping_is_200_and_stores_nothing(client):
    hub = make_hub(None)

    response = client.post(
        f"/connectors/{hub.connector.pk}/inbound/",
        data=b"webhook_id=7",
        content_type="application/x-www-form-urlencoded",
        headers={"X-Test-Ping": "1"},
    )

    assert response.status_code == 200
    assert InboxEvent.objects.count() == 0


def test_valid_delivery_is_stored_raw_before_the_200_and_queued_on_commit(
    client, django_capture_on_commit_callbacks
):
    hub = make_hub(None)
    payload = order("1001", "hold", hub.variant.sku)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = deliver(
            client, hub.connector, payload, delivery="abc", Authorization="Bearer nope"
        )

    assert response.status_code == 200
    event = InboxEvent.objects.get()
    assert response.json() == {"status": "accepted", "event": event.pk}
    assert (event.delivery_id, event.topic, event.state) == ("abc", "order", InboxState.RECEIVED)
    assert json.loads(event.body) == payload
    assert "Authorization" not in event.headers
    assert [(callback.func, callback.args) for callback in callbacks] == [
        (kick_inbox, (hub.connector.pk,))  # the connector's inbox drain, after the commit
    ]


def test_malformed_body_is_400_with_the_reason_and_kept(client):
    hub = make_hub(None)

    response = deliver(client, hub.connector, None, raw=b'{"topic": "stock", "stock": [{"sku":')

    assert response.status_code == 400
    assert "not JSON" in response.json()["error"]["message"]
    event = InboxEvent.objects.get()
    assert event.state == InboxState.MALFORMED
    assert event.body == '{"topic": "stock", "stock": [{"sku":'
    assert SyncProblem.objects.filter(kind=SyncProblemKind.MALFORMED_INBOUND).count() == 1


def test_unknown_or_inactive_connector_is_404(client):
    hub = make_hub(None)
    Connector.objects.filter(pk=hub.connector.pk).update(is_active=False)

    response = deliver(client, hub.connector, order("1", "hold", hub.variant.sku))

    assert response.status_code == 404
    assert InboxEvent.objects.count() == 0


def test_duplicate_delivery_is_200_and_applied_once(client):
    hub = make_hub(None, on_hand=10)
    payload = order("2001", "hold", hub.variant.sku, quantity=3)

    first = deliver(client, hub.connector, payload, delivery="dup-1")
    process_all()
    second = deliver(client, hub.connector, payload, delivery="dup-1")
    process_all()

    assert first.status_code == second.status_code == 200
    assert second.json()["status"] == "duplicate"
    assert InboxEvent.objects.count() == 1
    assert Order.objects.filter(reference="2001").count() == 1
    assert channel_salable_many(hub.channel, [hub.variant])[hub.variant.pk].salable == 7


# --- Orders -----------------------------------------------------------------------------------


def test_order_lifecycle_goes_through_the_stock_order_services(client):
    hub = make_hub(None, on_hand=10)
    sku = hub.variant.sku

    deliver(client, hub.connector, order("3001", "hold", sku, 2), delivery="o-1")
    process_all()
    placed = Order.objects.get(reference="3001")
    deliver(client, hub.connector, order("3001", "paid", sku, 2), delivery="o-2")
    process_all()
    paid = Order.objects.get(reference="3001")
    deliver(client, hub.connector, order("3001", "shipped", sku, 2), delivery="o-3")
    process_all()

    shipped = Order.objects.get(reference="3001")
    assert (placed.status, paid.status, shipped.status) == (
        OrderStatus.PLACED,
        OrderStatus.PAID,
        OrderStatus.SHIPPED,
    )
    assert placed.channel_id == hub.channel.pk
    level = hub.variant.levels.get(warehouse=hub.warehouse)
    assert (balance_of(level).on_hand, balance_of(level).reserved) == (8, 0)
    assert set(InboxEvent.objects.values_list("state", flat=True)) == {InboxState.PROCESSED}


def test_released_order_cancels_the_hold(client):
    hub = make_hub(None, on_hand=10)
    deliver(client, hub.connector, order("4001", "hold", hub.variant.sku, 4), delivery="o-1")
    process_all()

    deliver(client, hub.connector, order("4001", "released", hub.variant.sku, 4), delivery="o-2")
    process_all()

    assert Order.objects.get(reference="4001").status == OrderStatus.CANCELLED
    assert channel_salable_many(hub.channel, [hub.variant])[hub.variant.pk].salable == 10


# --- Stock snapshots --------------------------------------------------------------------------


def test_store_owned_snapshot_becomes_a_sync_count_movement(client):
    hub = make_hub(None, on_hand=10, ownership="store", locations=[("", None)])

    deliver(client, hub.connector, snapshot(hub, 7), delivery="s-1")
    process_all()
    # A redelivery of the same snapshot under a new id changes nothing more.
    deliver(client, hub.connector, snapshot(hub, 7), delivery="s-2")
    process_all()

    movement = StockMovement.objects.filter(variant=hub.variant).order_by("pk").last()
    assert (movement.kind, movement.reason, movement.source) == (
        "count",
        ReasonCode.SYNC,
        MovementSource.CONNECTOR,
    )
    assert movement.reference == f"{hub.connector.pk}:s-1:{hub.mapping.remote_id}:"
    assert movement.delta_on_hand == -3
    assert balance_of(movement.level).on_hand == 7
    assert StockMovement.objects.filter(variant=hub.variant, reason=ReasonCode.SYNC).count() == 1


def test_stale_snapshot_is_recorded_but_not_applied(client):
    hub = make_hub(None, on_hand=10, ownership="store", locations=[("", None)])
    deliver(client, hub.connector, snapshot(hub, 6, updated_at=T0), delivery="new")
    process_all()
    before = ledger_ids()

    older = snapshot(hub, 9, updated_at=T0 - timedelta(minutes=5))
    deliver(client, hub.connector, older, delivery="old")
    process_all()

    assert ledger_ids() == before
    assert balance_of(hub.variant.levels.get()).on_hand == 6
    stale = InboxEvent.objects.get(delivery_id="old")
    assert stale.state == InboxState.PROCESSED
    assert "stale, not applied" in stale.result
    assert SkuMapping.objects.get(pk=hub.mapping.pk).location_updated_at == {"": T0.isoformat()}


def test_hub_owned_drift_is_recorded_and_overwritten_by_a_push(client):
    hub = make_hub(None, on_hand=10)
    SkuMapping.objects.filter(pk=hub.mapping.pk).update(
        last_pushed={"": 10}, last_confirmed={"": 10}
    )

    deliver(client, hub.connector, snapshot(hub, 4), delivery="drift")
    process_all()

    assert balance_of(hub.variant.levels.get()).on_hand == 10  # the hub's stock stands
    mapping = SkuMapping.objects.get(pk=hub.mapping.pk)
    assert mapping.last_confirmed == {"": 4}  # so the next push is not skipped
    row = OutboxItem.objects.get(connector=hub.connector)
    assert (row.variant_id, row.state) == (hub.variant.pk, OutboxState.PENDING)
    problem = SyncProblem.objects.get(kind=SyncProblemKind.DRIFT)
    assert problem.details["items"] == [
        {"sku": hub.variant.sku, "location": "", "store": 4, "hub": 10}
    ]


def test_echo_of_the_hubs_own_push_is_not_bounced_back(client):
    hub = make_hub(None, on_hand=10)
    SkuMapping.objects.filter(pk=hub.mapping.pk).update(
        last_pushed={"": 10}, last_confirmed={"": 10}
    )

    deliver(client, hub.connector, snapshot(hub, 10), delivery="echo")
    process_all()

    assert OutboxItem.objects.count() == 0
    assert SyncProblem.objects.count() == 0
    assert "in sync" in InboxEvent.objects.get().result


def test_unmapped_sku_in_a_snapshot_is_reported(client):
    hub = make_hub(None, on_hand=10)
    payload = {
        "topic": "stock",
        "stock": [{"sku": "NOPE", "remote_id": "r-nope", "quantity": 1, "location": ""}],
    }

    deliver(client, hub.connector, payload, delivery="u-1")
    process_all()

    problem = SyncProblem.objects.get(kind=SyncProblemKind.UNMAPPED)
    assert "NOPE" in problem.message


def test_products_the_store_deleted_lose_their_mapping_and_are_reported(client):
    hub = make_hub(None, skus=("A", "B"))
    payload = {"topic": "product.deleted", "deleted_remote_ids": [hub.mappings[0].remote_id]}

    response = deliver(client, hub.connector, payload, delivery="del-1")
    process_all()

    assert response.json()["status"] == "accepted"
    assert list(SkuMapping.objects.filter(connector=hub.connector)) == [hub.mappings[1]]
    problem = SyncProblem.objects.get(kind=SyncProblemKind.UNMAPPED)
    assert problem.details["deleted"] == [
        {"sku": hub.variants[0].sku, "remote_id": hub.mappings[0].remote_id}
    ]


def test_polled_records_follow_the_same_ownership_rules():
    from django.db import transaction

    from connectors.base import RemoteStatus, RemoteStock
    from connectors.inbound.rules.snapshots import apply_remote_stock

    hub = make_hub(None, on_hand=10, ownership="store", locations=[("", None)])
    record = RemoteStock(
        sku=hub.variant.sku,
        remote_id=hub.mapping.remote_id,
        quantity=4,
        status=RemoteStatus.IN_STOCK,
        updated_at=T0,
    )

    with transaction.atomic():
        first = apply_remote_stock(connector=hub.connector, stock=[record], source="poll-1")
    with transaction.atomic():
        repeat = apply_remote_stock(connector=hub.connector, stock=[record], source="poll-1")

    assert (first.counted, repeat.counted, repeat.in_sync) == (1, 0, 1)
    assert balance_of(hub.variant.levels.get()).on_hand == 4


# --- Failures, dead letters, replay -----------------------------------------------------------


def database_unavailable(monkeypatch):
    """Every order placement fails as a database that went away does, until undone."""
    from django.db import OperationalError

    def unavailable(**kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr("stock.services.orders.place_order", unavailable)
    return monkeypatch


def test_failing_event_retries_with_backoff_then_goes_dead_and_replays(
    client, settings, monkeypatch
):
    settings.CONNECTORS_INBOX_MAX_ATTEMPTS = 3
    hub = make_hub(None, on_hand=1)
    # A transient failure (the database went away): worth retrying.
    database_unavailable(monkeypatch)
    deliver(client, hub.connector, order("5001", "hold", hub.variant.sku, 1), delivery="big")
    event = InboxEvent.objects.get()

    states = []
    for _ in range(3):
        InboxEvent.objects.filter(pk=event.pk).update(next_attempt_at=timezone.now())
        states.append(process_inbox_event(event_id=event.pk))
    failed = InboxEvent.objects.get(pk=event.pk)
    monkeypatch.undo()
    replayed = replay_dead_letters(connector_id=hub.connector.pk)
    process_all()

    assert states == [InboxState.FAILED, InboxState.FAILED, InboxState.DEAD]
    assert "OperationalError" in failed.last_error
    assert SyncProblem.objects.filter(kind=SyncProblemKind.DEAD_LETTER).count() == 1
    assert replayed == 1
    event.refresh_from_db()
    assert (event.state, event.attempts) == (InboxState.PROCESSED, 1)
    assert Order.objects.get(reference="5001").status == OrderStatus.PLACED
    assert replay_dead_letters(connector_id=hub.connector.pk) == 0


def test_a_failed_event_waits_for_its_backoff(client, monkeypatch):
    hub = make_hub(None, on_hand=1)
    database_unavailable(monkeypatch)
    deliver(client, hub.connector, order("6001", "hold", hub.variant.sku, 1), delivery="x")
    event = InboxEvent.objects.get()

    first = process_inbox_event(event_id=event.pk)
    early = process_inbox_event(event_id=event.pk)

    event.refresh_from_db()
    assert (first, early) == (InboxState.FAILED, None)
    assert event.attempts == 1
    assert event.next_attempt_at > timezone.now()


def test_an_order_the_hub_cannot_hold_whole_is_recorded_short_at_once(client, verify_ledger_clean):
    hub = make_hub(None, on_hand=13)
    deliver(client, hub.connector, order("7001", "hold", hub.variant.sku, 18), delivery="o")
    event = InboxEvent.objects.get()

    state = process_inbox_event(event_id=event.pk)

    event.refresh_from_db()
    assert (state, event.attempts, event.last_error) == (InboxState.PROCESSED, 1, "")
    assert "short (sold, not held): " + hub.variant.sku + " 5" in event.result
    line = Order.objects.get(reference="7001").lines.get()
    assert (line.quantity, line.short_quantity) == (18, 5)
    assert balance_of(hub.variant.levels.get()).reserved == 13
    assert channel_salable_many(hub.channel, [hub.variant])[hub.variant.pk].salable == 0
    assert not SyncProblem.objects.filter(kind=SyncProblemKind.DEAD_LETTER).exists()
    verify_ledger_clean()


def test_a_short_order_queues_a_push_even_when_it_holds_nothing(client):
    hub = make_hub(None, on_hand=0)
    deliver(client, hub.connector, order("7002", "hold", hub.variant.sku, 2), delivery="o")

    process_all()

    assert Order.objects.get(reference="7002").lines.get().short_quantity == 2
    assert OutboxItem.objects.filter(
        connector=hub.connector, variant=hub.variant, state=OutboxState.PENDING
    ).exists()


def test_an_order_for_a_connector_without_a_channel_is_refused_at_once(client):
    hub = make_hub(None, on_hand=5)
    Connector.objects.filter(pk=hub.connector.pk).update(channel=None)
    deliver(client, hub.connector, order("7003", "hold", hub.variant.sku, 1), delivery="o")
    event = InboxEvent.objects.get()

    state = process_inbox_event(event_id=event.pk)

    event.refresh_from_db()
    assert (state, event.attempts, event.next_attempt_at) == (InboxState.DEAD, 1, None)
    assert "has no sales channel" in event.last_error
    problem = SyncProblem.objects.get(kind=SyncProblemKind.DEAD_LETTER)
    assert "refused and is not retried" in problem.message
    assert not Order.objects.exists()


def test_a_stock_refusal_is_refused_at_once_and_replays_once_fixed(client):
    hub = make_hub(None, on_hand=5)
    retired = hub.variant
    retired.is_active = False
    retired.save(update_fields=["is_active"])
    deliver(client, hub.connector, order("7004", "hold", retired.sku, 1), delivery="o")
    event = InboxEvent.objects.get()

    state = process_inbox_event(event_id=event.pk)
    event.refresh_from_db()
    retired.is_active = True
    retired.save(update_fields=["is_active"])
    replay_dead_letters(connector_id=hub.connector.pk)
    process_all()

    assert (state, event.attempts) == (InboxState.DEAD, 1)
    assert "NotSellable" in event.last_error
    assert Order.objects.get(reference="7004").status == OrderStatus.PLACED


def test_store_class_crash_while_parsing_keeps_the_delivery(client, settings):
    settings.CONNECTORS_INBOX_MAX_ATTEMPTS = 1
    hub = make_hub(None)

    response = deliver(client, hub.connector, {"topic": "explode"}, delivery="boom")
    process_all()

    assert response.status_code == 200
    event = InboxEvent.objects.get()
    assert event.state == InboxState.DEAD
    assert "could not read" in event.last_error


def test_per_source_store_owned_snapshot_counts_the_mapped_warehouse(client):
    hub = make_hub(None, on_hand=10, kind=SOURCES_KIND, locations=[("main", None), ("shop", True)])
    shop = hub.warehouses[1]

    deliver(client, hub.connector, snapshot(hub, 3, location="shop"), delivery="p-1")
    deliver(client, hub.connector, snapshot(hub, 10, location="main"), delivery="p-2")
    process_all()

    assert balance_of(hub.variant.levels.get(warehouse=shop)).on_hand == 3
    assert balance_of(hub.variant.levels.get(warehouse=hub.warehouse)).on_hand == 10
    assert SyncProblem.objects.filter(kind=SyncProblemKind.DRIFT).count() == 0


# --- Draining a connector's inbox --------------------------------------------------------------


def test_drain_applies_a_connectors_events_in_arrival_order(client):
    hub = make_hub(None, on_hand=10)
    other = make_hub(None, on_hand=10)
    sku = hub.variant.sku
    for number, state in enumerate(("hold", "paid", "shipped")):
        deliver(client, hub.connector, order("8001", state, sku, 2), delivery=f"a-{number}")
    deliver(client, other.connector, order("8002", "hold", other.variant.sku), delivery="b-0")

    status = process_connector_inbox(connector_id=hub.connector.pk)

    assert status == DrainStatus.DONE
    events = list(InboxEvent.objects.filter(connector=hub.connector).order_by("pk"))
    assert [event.state for event in events] == [InboxState.PROCESSED] * 3
    times = [event.processed_at for event in events]
    assert times == sorted(times)
    assert Order.objects.get(reference="8001").status == OrderStatus.SHIPPED
    assert InboxEvent.objects.get(connector=other.connector).state == InboxState.RECEIVED


def test_drain_twice_applies_each_event_once(client):
    hub = make_hub(None, on_hand=10)
    deliver(client, hub.connector, order("8101", "hold", hub.variant.sku, 3), delivery="t-1")

    first = process_connector_inbox(connector_id=hub.connector.pk)
    second = process_connector_inbox(connector_id=hub.connector.pk)

    assert (first, second) == (DrainStatus.DONE, DrainStatus.DONE)
    assert InboxEvent.objects.get().attempts == 1
    assert channel_salable_many(hub.channel, [hub.variant])[hub.variant.pk].salable == 7


def test_a_second_drain_of_a_connector_returns_busy_and_applies_nothing(client):
    hub = make_hub(None, on_hand=10)
    deliver(client, hub.connector, order("8201", "hold", hub.variant.sku), delivery="busy")
    holding, release = threading.Event(), threading.Event()

    def hold_the_drain_lock() -> None:
        try:
            with connector_job_lock(INBOX_DRAIN_JOB, hub.connector.pk) as acquired:
                assert acquired
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=hold_the_drain_lock)
    thread.start()
    assert holding.wait(10)
    try:
        status = process_connector_inbox(connector_id=hub.connector.pk)
    finally:
        release.set()
        thread.join()

    assert status == DrainStatus.BUSY
    assert InboxEvent.objects.get().state == InboxState.RECEIVED
    assert process_connector_inbox(connector_id=hub.connector.pk) == DrainStatus.DONE
    assert InboxEvent.objects.get().state == InboxState.PROCESSED


def test_drain_stops_at_its_limit_and_says_more_remain(client):
    hub = make_hub(None, on_hand=10)
    for number in range(3):
        deliver(
            client,
            hub.connector,
            order(f"83{number}", "hold", hub.variant.sku),
            delivery=f"l-{number}",
        )

    status = process_connector_inbox(connector_id=hub.connector.pk, limit=2)

    assert status == DrainStatus.MORE
    states = list(InboxEvent.objects.order_by("pk").values_list("state", flat=True))
    assert states == [InboxState.PROCESSED, InboxState.PROCESSED, InboxState.RECEIVED]


@pytest.fixture
def published():
    """Celery messages sent during the test: (task name, first argument)."""
    sent: list[tuple[str, object]] = []

    def record(sender=None, body=None, **kwargs) -> None:
        sent.append((sender, body[0][0] if body and body[0] else None))

    before_task_publish.connect(record, weak=False)
    yield sent
    before_task_publish.disconnect(record)
    from inventory_hub.celery import app

    app.control.purge()


def test_sweeper_queues_a_drain_for_events_whose_kick_was_lost_and_due_retries(client, published):
    hub = make_hub(None, on_hand=10)
    deliver(client, hub.connector, order("8401", "hold", hub.variant.sku), delivery="lost-1")
    deliver(client, hub.connector, order("8402", "hold", hub.variant.sku), delivery="lost-2")
    deliver(client, hub.connector, order("8403", "hold", hub.variant.sku), delivery="fresh")
    deliver(client, hub.connector, order("8404", "hold", hub.variant.sku), delivery="failed")
    long_ago = timezone.now() - timedelta(minutes=5)
    InboxEvent.objects.filter(delivery_id__startswith="lost").update(received_at=long_ago)
    failed = InboxEvent.objects.get(delivery_id="failed")
    InboxEvent.objects.filter(pk=failed.pk).update(
        state=InboxState.FAILED, next_attempt_at=long_ago
    )
    published.clear()

    sent = sweep_inbox_task()

    assert sent == 2
    assert sorted(published) == [
        ("connectors.tasks.process_connector_inbox_task", hub.connector.pk),
        ("connectors.tasks.process_inbox_event_task", failed.pk),
    ]
