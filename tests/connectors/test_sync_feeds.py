"""Uploaded CSV feeds: checked whole, kept raw as an inbox event, applied by the worker with
the same ownership, retry and dead-letter rules as webhooks (partner pushes go to the real
HTTP fake partner)."""

import pytest

from connectors.inbound.queue import replay_dead_letters
from connectors.models import (
    Connector,
    InboxEvent,
    InboxState,
    LocationMapping,
    OutboxItem,
    SkuMapping,
    SyncProblem,
    SyncProblemKind,
)
from connectors.outbox import forget_mapping_state
from connectors.partner.csv_feed import MalformedFeed
from connectors.sync.feeds import FEED_UPLOAD_TOPIC, FeedNotAccepted, upload_feed
from connectors.tasks import process_inbox_event_task
from stock.models import MovementSource, ReasonCode, StockLevel, StockMovement
from tests.connectors.sync_support import make_hub, push_all
from tests.fakes.partner import FakePartner

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]
SECRET = "partner-feed-secret"


@pytest.fixture
def worker(monkeypatch):
    """Runs, after each commit, the task a worker would receive (Celery's `apply`)."""
    sent = []

    def run(*args):
        sent.append(args)
        process_inbox_event_task.apply(args=args)

    monkeypatch.setattr(process_inbox_event_task, "delay", run)
    return sent


def partner(hub, base_url: str, *, ownership: str, **options) -> Connector:
    connector = Connector.objects.create(
        name=f"partner {ownership}",
        kind="partner",
        base_url=base_url,
        webhook_secret=SECRET,
        channel=hub.channel,
        ownership=ownership,
        options={"push_url": "/push", **options},
    )
    LocationMapping.objects.create(connector=connector, warehouse=hub.warehouse, location="")
    for sku, variant in hub.variants.items():
        SkuMapping.objects.create(connector=connector, variant=variant, remote_id=sku)
    forget_mapping_state()
    return connector


def on_hand(hub, sku: str) -> int:
    return StockLevel.objects.get(variant=hub.variants[sku], warehouse=hub.warehouse).on_hand


def test_a_feed_from_a_partner_owning_its_stock_becomes_counts_applied_once(
    worker, django_capture_on_commit_callbacks
):
    hub = make_hub({"MUG": 10, "CUP": 4})
    connector = partner(hub, "http://127.0.0.1:9", ownership="store")

    with django_capture_on_commit_callbacks(execute=True):
        stored = upload_feed(
            connector=connector,
            data=b"sku,quantity\nMUG,7\nCUP,4\n",
            file_name="stock.csv",
            uploaded_by="ops",
        )
    replayed = process_inbox_event_task.apply(args=(stored.event_id,)).get()

    event = InboxEvent.objects.get()
    assert (stored.event_id, stored.rows) == (event.pk, 2)
    assert worker == [(event.pk,)]
    assert (event.topic, event.state, event.body) == (
        FEED_UPLOAD_TOPIC,
        InboxState.PROCESSED,
        "sku,quantity\nMUG,7\nCUP,4\n",
    )
    assert event.headers["X-Hub-Upload"] == "stock.csv"
    assert (on_hand(hub, "MUG"), on_hand(hub, "CUP")) == (7, 4)
    counted = StockMovement.objects.get(source=MovementSource.CONNECTOR)
    assert (counted.reason, counted.delta_on_hand) == (ReasonCode.SYNC, -3)
    assert f"event-{event.pk}" in counted.reference
    assert replayed is None  # already processed: the same file is not applied twice
    assert not OutboxItem.objects.exists()


def test_a_feed_the_hub_owns_is_drift_and_the_hubs_value_reaches_the_partner(
    worker, django_capture_on_commit_callbacks
):
    hub = make_hub({"MUG": 10})
    with FakePartner(secret=SECRET) as fake:
        connector = partner(hub, fake.base_url, ownership="hub")

        with django_capture_on_commit_callbacks(execute=True):
            upload_feed(connector=connector, data=b"sku,quantity\nMUG,3\n")
        push_all(connector)

        assert fake.stock == {("MUG", ""): 10}
    assert on_hand(hub, "MUG") == 10
    assert InboxEvent.objects.get().state == InboxState.PROCESSED
    problem = SyncProblem.objects.get(connector=connector, kind=SyncProblemKind.DRIFT)
    assert problem.details["items"] == [{"sku": "MUG", "location": "", "store": 3, "hub": 10}]


def test_a_feed_that_no_longer_reads_retries_then_is_a_dead_letter_to_replay(
    worker, django_capture_on_commit_callbacks, settings
):
    settings.CONNECTORS_INBOX_MAX_ATTEMPTS = 2
    settings.CONNECTORS_INBOX_BACKOFF_SECONDS = 0
    hub = make_hub({"MUG": 10})
    connector = partner(hub, "http://127.0.0.1:9", ownership="store")
    stored = upload_feed(connector=connector, data=b"sku,quantity\nMUG,6\n")
    # Before a worker reads it, the column mapping changes under it.
    Connector.objects.filter(pk=connector.pk).update(
        options={"push_url": "/push", "csv_columns": {"quantity": "Qty"}}
    )

    states = [process_inbox_event_task.apply(args=(stored.event_id,)).get() for _ in range(2)]
    dead = InboxEvent.objects.get(pk=stored.event_id)
    Connector.objects.filter(pk=connector.pk).update(options={"push_url": "/push"})
    with django_capture_on_commit_callbacks(execute=True):
        replayed = replay_dead_letters(event_ids=[stored.event_id])

    assert states == [InboxState.FAILED, InboxState.DEAD]
    assert "no column 'Qty'" in dead.last_error
    assert SyncProblem.objects.filter(kind=SyncProblemKind.DEAD_LETTER).count() == 1
    assert replayed == 1
    assert InboxEvent.objects.get(pk=stored.event_id).state == InboxState.PROCESSED
    assert on_hand(hub, "MUG") == 6


@pytest.mark.parametrize(
    ("data", "line", "column", "message"),
    [
        (
            b"sku,quantity\nMUG,1\nCUP,lots\n",
            3,
            "quantity",
            "line 3: column 'quantity': 'lots' is not a whole number",
        ),
        (b"sku,quantity\nMUG,1\n,2\n", 3, "sku", "line 3: column 'sku' is empty"),
        (b"sku,quantity\nMUG,1,x\n", 2, None, "line 2: 3 fields, the header has 2"),
        (b"sku,quantity\n", 2, None, "line 2: no stock rows after the header line"),
        (b"sku,quantity\nMUG,1\nC\x00P,1\n", 3, "sku", "line 3: column 'sku' contains a NUL"),
        (b"sku,qu\x00antity\nMUG,1\n", 1, None, "line 1: field 2 contains a NUL"),
        (
            b"sku,quantity\nMUG,1\nCUP,1e308\n",
            3,
            "quantity",
            "line 3: column 'quantity': '1e308' is out of range (at most 1000000000)",
        ),
        (
            b"sku,quantity\nMUG,1180591620717411303424\n",
            2,
            "quantity",
            "line 2: column 'quantity': '1180591620717411303424' is out of range",
        ),
        ("sku,quantity\nTASSE-GRÜN,1\n".encode("latin-1"), 2, None, "line 2: the file is not"),
    ],
    ids=["quantity", "sku", "fields", "no-rows", "nul", "nul-header", "1e308", "2^70", "not-utf8"],
)
def test_a_malformed_feed_names_its_line_and_column_and_nothing_is_kept(
    worker, data, line, column, message
):
    hub = make_hub({"MUG": 10})
    connector = partner(hub, "http://127.0.0.1:9", ownership="store")

    with pytest.raises(MalformedFeed) as refused:
        upload_feed(connector=connector, data=data)

    assert str(refused.value).startswith(message)
    assert (refused.value.line, refused.value.column) == (line, column)
    assert not InboxEvent.objects.exists()
    assert worker == []
    assert on_hand(hub, "MUG") == 10


def test_only_an_active_connector_that_reads_csv_takes_a_feed(worker):
    hub = make_hub({"MUG": 10})
    off = partner(hub, "http://127.0.0.1:9", ownership="store")
    Connector.objects.filter(pk=off.pk).update(is_active=False)
    off.refresh_from_db()
    woo = Connector.objects.create(name="woo", kind="woocommerce", base_url="http://127.0.0.1:9")

    refusals = []
    for connector in (off, woo):
        with pytest.raises(FeedNotAccepted) as refused:
            upload_feed(connector=connector, data=b"sku,quantity\nMUG,1\n")
        refusals.append(refused.value.code)

    assert refusals == ["inactive_connector", "no_csv_feed"]
    assert not InboxEvent.objects.exists()
