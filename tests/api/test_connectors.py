"""/api/v1/connectors/: settings with write-only secrets, health, mappings, reports and
the ops actions."""

import json
import logging

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from connectors.models import (
    CircuitState,
    Connector,
    InboxEvent,
    InboxState,
    LocationMapping,
    OutboxItem,
    ReconciliationReport,
    SkuMapping,
    SyncRun,
    SyncRunKind,
)
from connectors.sync import tasks as sync_tasks
from stock.actors import Actor
from stock.services import receive_stock
from tests.fakes.woocommerce import FakeWooCommerce
from tests.stock.factories import VariantFactory
from tests.warehouses.factories import SalesChannelFactory, WarehouseFactory
from warehouses.access import Role

pytestmark = pytest.mark.django_db
URL = "/api/v1/connectors/"
SECRET_KEY = "ck_very_secret_key_value"
SECRET = "cs_even_more_secret_value"
WEBHOOK_SECRET = "whsec_do_not_show_me"


def woo_body(**overrides) -> dict:
    body = {
        "name": "Shop",
        "kind": "woocommerce",
        "base_url": "https://shop.example.com",
        "credentials": {"consumer_key": SECRET_KEY, "consumer_secret": SECRET},
        "webhook_secret": WEBHOOK_SECRET,
    }
    body.update(overrides)
    return body


def connector(**fields) -> Connector:
    defaults = {
        "name": f"c{Connector.objects.count() + 1}",
        "kind": "woocommerce",
        "base_url": "https://shop.example.com",
        "credentials": {"consumer_key": SECRET_KEY, "consumer_secret": SECRET},
        "webhook_secret": WEBHOOK_SECRET,
    }
    defaults.update(fields)
    return Connector.objects.create(**defaults)


def shows_no_secret(response) -> bool:
    text = response.content.decode()
    return not any(value in text for value in (SECRET_KEY, SECRET, WEBHOOK_SECRET))


@pytest.fixture
def queued(monkeypatch):
    calls = []
    for task in (sync_tasks.poll_connector_task, sync_tasks.set_up_connector_task):
        monkeypatch.setattr(
            task, "delay", lambda *args, _name=task.name: calls.append((_name, args))
        )
    monkeypatch.setattr(
        sync_tasks.reconcile_connector_task,
        "delay",
        lambda *args: calls.append(("reconcile", args)),
    )
    return calls


# --- Settings ----------------------------------------------------------------------------------


def test_create_stores_the_secrets_and_never_answers_with_them(ops_client):
    channel = SalesChannelFactory(code="web")
    warehouse = WarehouseFactory(code="MAIN")

    response = ops_client.post(
        URL,
        woo_body(channel="web", locations=[{"location": "", "warehouse": "MAIN"}]),
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["has_credentials"], body["has_webhook_secret"]) == (True, True)
    assert "credentials" not in body and "webhook_secret" not in body
    assert body["channel"] == "web"
    assert body["locations"] == [{"location": "", "warehouse": "MAIN", "is_store_owned": None}]
    assert body["inbound_url"] == f"/connectors/{body['id']}/inbound/"
    assert shows_no_secret(response)
    stored = Connector.objects.get(pk=body["id"])
    assert stored.credentials == {"consumer_key": SECRET_KEY, "consumer_secret": SECRET}
    assert stored.webhook_secret == WEBHOOK_SECRET
    assert stored.channel == channel
    assert LocationMapping.objects.get(connector=stored).warehouse == warehouse
    assert shows_no_secret(ops_client.get(URL)) and shows_no_secret(
        ops_client.get(f"{URL}{stored.pk}/")
    )


def test_options_the_store_class_refuses_are_a_400_and_nothing_is_stored(ops_client):
    response = ops_client.post(URL, woo_body(options={"page_size": 1000}), format="json")

    assert response.status_code == 400
    assert response.json()["error"]["details"]["options"] == [
        "options.page_size must be a whole number from 1 to 100"
    ]
    assert not Connector.objects.exists()


SENDER_KINDS = {
    "magento": {"base_url": "https://magento.example.com", "credentials": {"token": "t"}},
    "partner": {
        "base_url": "https://partner.example.com",
        "options": {"push_url": "/push"},
    },
}


@pytest.mark.parametrize("kind", sorted(SENDER_KINDS))
def test_a_connector_whose_sender_the_hub_does_not_set_up_needs_a_webhook_secret(ops_client, kind):
    body = {"name": "Store", "kind": kind, **SENDER_KINDS[kind]}

    response = ops_client.post(URL, body, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["details"] == {
        "webhook_secret": [
            f"webhook_secret is required to switch a {kind} connector on: its deliveries "
            "are verified with it, and the hub registers no webhook for it. Choose a long "
            "random value and give the sender the same."
        ]
    }
    assert not Connector.objects.exists()


@pytest.mark.parametrize("kind", sorted(SENDER_KINDS))
def test_a_connector_prepared_switched_off_is_switched_on_only_with_a_webhook_secret(
    ops_client, kind
):
    created = ops_client.post(
        URL, {"name": "Store", "kind": kind, "is_active": False, **SENDER_KINDS[kind]}, "json"
    )
    url = f"{URL}{created.json()['id']}/"

    refused = ops_client.patch(url, {"is_active": True}, format="json")
    still_off = Connector.objects.get().is_active
    switched_on = ops_client.patch(
        url, {"is_active": True, "webhook_secret": WEBHOOK_SECRET}, format="json"
    )

    assert created.status_code == 201, created.json()
    assert refused.status_code == 400
    assert list(refused.json()["error"]["details"]) == ["webhook_secret"]
    assert still_off is False
    assert switched_on.status_code == 200, switched_on.json()
    stored = Connector.objects.get()
    assert (stored.is_active, stored.webhook_secret) == (True, WEBHOOK_SECRET)
    assert shows_no_secret(switched_on)


def partner_body(**overrides) -> dict:
    body = {
        "name": "Partner",
        "kind": "partner",
        "base_url": "https://partner.example.com",
        "webhook_secret": WEBHOOK_SECRET,
    }
    body.update(overrides)
    return body


PUSH_URL_REFUSED = [
    "push_url is required while the hub owns stock this partner shows (ownership hub, or a "
    "location the hub owns): it is where the hub sends it. Set push_url, or let the partner "
    "own its stock (ownership store)."
]


@pytest.mark.parametrize(
    ("ownership", "is_store_owned"), [("hub", None), ("store", False)], ids=["hub", "location"]
)
def test_a_partner_the_hub_owns_stock_for_needs_a_push_url(ops_client, ownership, is_store_owned):
    WarehouseFactory(code="MAIN")
    locations = [{"location": "", "warehouse": "MAIN", "is_store_owned": is_store_owned}]

    response = ops_client.post(
        URL, partner_body(ownership=ownership, locations=locations), format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"options": PUSH_URL_REFUSED}
    assert not Connector.objects.exists()


def test_a_partner_owning_its_stock_needs_no_push_url_and_gets_no_outbox_row(ops_client):
    warehouse = WarehouseFactory(code="MAIN")
    variant = VariantFactory(sku="A")
    body = partner_body(ownership="store", locations=[{"location": "", "warehouse": "MAIN"}])

    created = ops_client.post(URL, body, format="json")
    SkuMapping.objects.create(connector_id=created.json()["id"], variant=variant, remote_id="A")
    receive_stock(variant=variant, warehouse=warehouse, quantity=5, actor=Actor.system("tests"))
    handed_over = ops_client.patch(
        f"{URL}{created.json()['id']}/", {"ownership": "hub"}, format="json"
    )

    assert created.status_code == 201, created.json()
    assert not OutboxItem.objects.exists()
    assert handed_over.status_code == 400
    assert handed_over.json()["error"]["details"] == {"options": PUSH_URL_REFUSED}
    assert Connector.objects.get().ownership == "store"


def test_a_woocommerce_connector_needs_no_webhook_secret_setup_makes_one(ops_client):
    response = ops_client.post(URL, woo_body(webhook_secret=""), format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["has_webhook_secret"] is False


def test_credentials_that_are_not_text_are_refused_without_echoing_them(ops_client):
    response = ops_client.post(
        URL,
        woo_body(credentials={"consumer_key": 12345678, "consumer_secret": SECRET}),
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["error"]["details"]["credentials"] == {
        "consumer_key": ["Must be a JSON string."]
    }
    assert "12345678" not in response.content.decode() and shows_no_secret(response)


def test_unknown_channel_and_warehouse_are_named(ops_client):
    response = ops_client.post(
        URL,
        woo_body(channel="nope", locations=[{"location": "", "warehouse": "NOWHERE"}]),
        format="json",
    )

    details = response.json()["error"]["details"]
    assert response.status_code == 400
    assert details["channel"] == ["No sales channel has code 'nope'."]
    assert details["locations"] == {"0": {"warehouse": ["No warehouse has code 'NOWHERE'."]}}


@pytest.mark.parametrize(
    ("location", "missing"),
    [({"location": ""}, "warehouse"), ({"warehouse": "BAL"}, "location"), ({}, "location")],
)
def test_patch_with_an_incomplete_location_is_400_naming_the_field(ops_client, location, missing):
    target = connector()

    response = ops_client.patch(f"{URL}{target.pk}/", {"locations": [location]}, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["message"] == f"locations[0].{missing}: This field is required."
    assert error["details"]["locations"]["0"][missing] == ["This field is required."]
    assert not target.location_mappings.exists()


def test_only_ops_staff_change_connectors_and_every_role_reads_them(make_client):
    viewer = make_client(Role.VIEWER)
    existing = connector()

    refused = viewer.post(URL, woo_body(), format="json")
    refused_action = viewer.post(f"{URL}{existing.pk}/sync/", {}, format="json")
    listed = viewer.get(URL)

    assert (refused.status_code, refused_action.status_code) == (403, 403)
    assert listed.status_code == 200 and listed.json()["count"] == 1
    assert shows_no_secret(listed)


def test_update_keeps_omitted_secrets_and_replaces_given_ones(ops_client):
    existing = connector()

    kept = ops_client.patch(f"{URL}{existing.pk}/", {"poll_interval_seconds": 60}, format="json")
    replaced = ops_client.patch(
        f"{URL}{existing.pk}/", {"webhook_secret": "new-secret-value"}, format="json"
    )
    kind = ops_client.patch(f"{URL}{existing.pk}/", {"kind": "magento"}, format="json")

    existing.refresh_from_db()
    assert kept.status_code == replaced.status_code == 200
    assert existing.credentials["consumer_key"] == SECRET_KEY
    assert existing.webhook_secret == "new-secret-value"
    assert existing.poll_interval_seconds == 60
    assert kind.status_code == 400
    assert kind.json()["error"]["details"]["kind"] == ["The kind cannot be changed."]
    assert "new-secret-value" not in replaced.content.decode()


def test_switching_a_connector_on_queues_a_push_of_every_mapped_sku(ops_client):
    existing = connector(is_active=False, channel=SalesChannelFactory())
    for sku in ("A", "B"):
        SkuMapping.objects.create(
            connector=existing, variant=VariantFactory(sku=sku), remote_id=sku
        )

    response = ops_client.patch(f"{URL}{existing.pk}/", {"is_active": True}, format="json")

    assert response.status_code == 200
    assert OutboxItem.objects.filter(connector=existing, state="pending").count() == 2


@pytest.mark.parametrize(
    ("ownership", "change"),
    [
        ("hub", {"channel": "other"}),
        ("store", {"ownership": "hub"}),
        ("hub", {"options": {"page_size": 50}}),
    ],
    ids=["channel", "ownership", "options"],
)
def test_changing_what_a_connector_shows_queues_a_push_of_every_mapped_sku(
    ops_client, ownership, change
):
    existing = connector(channel=SalesChannelFactory(), ownership=ownership)
    SalesChannelFactory(code="other")
    for sku in ("A", "B"):
        SkuMapping.objects.create(
            connector=existing, variant=VariantFactory(sku=sku), remote_id=sku
        )

    response = ops_client.patch(f"{URL}{existing.pk}/", change, format="json")

    assert response.status_code == 200, response.json()
    assert OutboxItem.objects.filter(connector=existing, state="pending").count() == 2


def test_unknown_connector_is_a_404_with_its_own_code(ops_client):
    response = ops_client.get(f"{URL}999999/health/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_connector"


# --- Health, mappings, reports -------------------------------------------------------------


def test_health_shows_breaker_queues_latency_and_recent_errors(ops_client):
    existing = connector(circuit_state=CircuitState.OPEN, consecutive_failures=5)
    variant = VariantFactory(sku="HEALTH")
    OutboxItem.objects.create(connector=existing, variant=variant)
    InboxEvent.objects.create(connector=existing, delivery_id="x", state=InboxState.DEAD)
    SyncRun.objects.create(connector=existing, kind=SyncRunKind.PUSH, is_ok=True, latency_ms=40)
    SyncRun.objects.create(
        connector=existing, kind=SyncRunKind.POLL, is_ok=False, error="RemoteUnavailable: down"
    )

    body = ops_client.get(f"{URL}{existing.pk}/health/").json()

    assert (body["circuit_state"], body["consecutive_failures"]) == ("open", 5)
    assert body["queue"] == {
        "pending_pushes": 1,
        "due_pushes": 1,
        "dead_pushes": 0,
        "waiting_events": 0,
        "dead_events": 1,
    }
    assert (body["last_push_latency_ms"], body["average_push_latency_ms"]) == (40, 40)
    assert [e["error"] for e in body["recent_errors"]] == ["RemoteUnavailable: down"]


def test_mappings_reports_and_drift_are_listed(ops_client):
    existing = connector()
    SkuMapping.objects.create(
        connector=existing,
        variant=VariantFactory(sku="MAPPED"),
        remote_id="77",
        last_confirmed={"": 3},
    )
    first = ReconciliationReport.objects.create(connector=existing, checked=4, drifted=1)
    second = ReconciliationReport.objects.create(
        connector=existing,
        checked=4,
        drifted=2,
        corrected=2,
        unmapped=[{"side": "store", "sku": "X"}],
        details=[{"sku": "MAPPED", "finding": "drift"}],
    )

    mappings = ops_client.get(f"{URL}{existing.pk}/mappings/").json()
    reports = ops_client.get(f"{URL}{existing.pk}/reconciliations/").json()
    detail = ops_client.get(f"{URL}{existing.pk}/reconciliations/{second.pk}/").json()
    drift = ops_client.get(f"{URL}{existing.pk}/drift/", {"limit": 5}).json()
    other = ops_client.get(f"{URL}{connector().pk}/reconciliations/{second.pk}/")

    assert [(m["sku"], m["remote_id"], m["last_confirmed"]) for m in mappings["results"]] == [
        ("MAPPED", "77", {"": 3})
    ]
    assert [r["id"] for r in reports["results"]] == [second.pk, first.pk]
    assert detail["unmapped"] == [{"side": "store", "sku": "X"}]
    assert detail["details"] == [{"sku": "MAPPED", "finding": "drift"}]
    assert [(p["report"], p["drifted"], p["unmapped"]) for p in drift] == [
        (first.pk, 1, 0),
        (second.pk, 2, 1),
    ]
    assert other.status_code == 404 and other.json()["error"]["code"] == "unknown_report"


# --- Actions -------------------------------------------------------------------------------


@pytest.mark.postgres
def test_test_connection_answers_whether_the_store_accepted_the_credentials(ops_client, caplog):
    with FakeWooCommerce() as woo:
        good = connector(base_url=woo.base_url, credentials=woo.credentials)
        bad = connector(base_url=woo.base_url)
        with caplog.at_level(logging.DEBUG):
            accepted = ops_client.post(f"{URL}{good.pk}/test/")
            refused = ops_client.post(f"{URL}{bad.pk}/test/")

    assert accepted.status_code == refused.status_code == 200
    assert accepted.json()["ok"] is True
    assert refused.json()["ok"] is False
    assert "RemoteAuthFailed (401)" in refused.json()["error"]
    assert shows_no_secret(refused)
    assert SECRET_KEY not in caplog.text and SECRET not in caplog.text
    assert list(
        SyncRun.objects.filter(kind=SyncRunKind.TEST).order_by("pk").values_list("is_ok", flat=True)
    ) == [True, False]


def test_sync_setup_and_reconcile_queue_work_for_a_worker(
    ops_client, queued, django_capture_on_commit_callbacks
):
    existing = connector()

    with django_capture_on_commit_callbacks(execute=True):
        synced = ops_client.post(f"{URL}{existing.pk}/sync/", {"full": True}, format="json")
        set_up = ops_client.post(
            f"{URL}{existing.pk}/setup/", {"map_locations": True}, format="json"
        )
        reconciled = ops_client.post(f"{URL}{existing.pk}/reconcile/")

    assert (synced.status_code, set_up.status_code, reconciled.status_code) == (202, 202, 202)
    report = ReconciliationReport.objects.get(connector=existing)
    assert reconciled.json() == {
        "queued": "reconcile",
        "connector": existing.pk,
        "report": report.pk,
    }
    assert queued == [
        (sync_tasks.poll_connector_task.name, (existing.pk, True)),
        (sync_tasks.set_up_connector_task.name, (existing.pk, True, True, True)),
        ("reconcile", (existing.pk, report.pk)),
    ]


def test_actions_on_a_switched_off_connector_are_a_409(ops_client, queued):
    existing = connector(is_active=False)

    answers = [
        ops_client.post(f"{URL}{existing.pk}/{action}/", {}, format="json")
        for action in ("sync", "reconcile", "setup")
    ]

    assert [answer.status_code for answer in answers] == [409, 409, 409]
    assert {answer.json()["error"]["code"] for answer in answers} == {"inactive_connector"}
    assert not ReconciliationReport.objects.exists()
    assert queued == []


def test_replay_dead_letters_requeues_them_once_per_idempotency_key(
    ops_client, django_capture_on_commit_callbacks, monkeypatch
):
    from connectors import tasks as engine_tasks

    monkeypatch.setattr(engine_tasks.process_inbox_event_task, "delay", lambda *args: None)
    existing = connector()
    for number in range(2):
        InboxEvent.objects.create(
            connector=existing, delivery_id=f"dead-{number}", state=InboxState.DEAD, attempts=8
        )
    headers = {"Idempotency-Key": "replay-1"}

    first = ops_client.post(f"{URL}{existing.pk}/replay-dead-letters/", headers=headers)
    again = ops_client.post(f"{URL}{existing.pk}/replay-dead-letters/", headers=headers)

    assert first.json() == again.json() == {"replayed": 2}
    assert again.headers["Idempotent-Replayed"] == "true"
    assert set(InboxEvent.objects.values_list("state", flat=True)) == {InboxState.RECEIVED}
    assert json.loads(first.content) == {"replayed": 2}


# --- CSV feed upload ----------------------------------------------------------------------

FEED = b"sku,quantity\nMUG,7\nCUP,0\n"


def feed_partner(**fields) -> Connector:
    return connector(
        kind="partner",
        base_url="https://partner.example.com",
        credentials={},
        ownership="store",
        **fields,
    )


@pytest.fixture
def worker_tasks(monkeypatch):
    from connectors import tasks as engine_tasks

    sent = []
    monkeypatch.setattr(engine_tasks.process_inbox_event_task, "delay", lambda *a: sent.append(a))
    return sent


def upload(client, target: Connector, data: bytes = FEED, name: str = "stock.csv", **headers):
    return client.post(
        f"{URL}{target.pk}/feed/",
        {"file": SimpleUploadedFile(name, data, content_type="text/csv")},
        format="multipart",
        headers=headers,
    )


def test_an_uploaded_feed_is_kept_as_an_inbox_event_for_a_worker(
    ops_client, worker_tasks, django_capture_on_commit_callbacks
):
    partner = feed_partner()

    with django_capture_on_commit_callbacks(execute=True):
        response = upload(ops_client, partner)

    event = InboxEvent.objects.get()
    assert response.status_code == 202, response.json()
    assert response.json() == {
        "queued": "feed",
        "connector": partner.pk,
        "event": event.pk,
        "rows": 2,
    }
    assert (event.connector, event.topic, event.state) == (partner, "feed.upload", "received")
    assert event.body == FEED.decode()
    assert (event.headers["X-Hub-Upload"], event.headers["X-Hub-Uploaded-By"]) == (
        "stock.csv",
        "ops",
    )
    assert worker_tasks == [(event.pk,)]


def test_a_feed_may_be_sent_as_a_text_csv_body(
    ops_client, worker_tasks, django_capture_on_commit_callbacks
):
    partner = feed_partner()

    with django_capture_on_commit_callbacks(execute=True):
        response = ops_client.post(
            f"{URL}{partner.pk}/feed/", data=FEED, content_type="text/csv; charset=utf-8"
        )

    assert response.status_code == 202, response.json()
    assert InboxEvent.objects.get().body == FEED.decode()
    assert worker_tasks == [(response.json()["event"],)]


def test_a_malformed_feed_is_a_400_naming_line_and_column_and_nothing_is_kept(
    ops_client, worker_tasks
):
    partner = feed_partner()

    response = upload(ops_client, partner, b"sku,quantity\nMUG,7\nCUP,lots\n")

    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "malformed_feed",
        "message": "line 3: column 'quantity': 'lots' is not a whole number",
        "details": {"line": 3, "column": "quantity"},
    }
    assert not InboxEvent.objects.exists()
    assert worker_tasks == []


@pytest.mark.parametrize(
    ("data", "message", "column"),
    [
        (
            b"sku,quantity\nMUG,7\nCUP,1e308\n",
            "line 3: column 'quantity': '1e308' is out of range (at most 1000000000)",
            "quantity",
        ),
        (
            b"sku,quantity\nMUG,7\nCUP,1180591620717411303424\n",
            "line 3: column 'quantity': '1180591620717411303424' is out of range "
            "(at most 1000000000)",
            "quantity",
        ),
        (
            b"sku,quantity\nMUG,7\nC\x00P,1\n",
            "line 3: column 'sku' contains a NUL character",
            "sku",
        ),
    ],
    ids=["1e308", "2^70", "nul"],
)
def test_a_feed_with_a_value_the_hub_cannot_hold_is_a_400_before_it_is_kept(
    ops_client, worker_tasks, data, message, column
):
    partner = feed_partner()

    response = ops_client.post(f"{URL}{partner.pk}/feed/", data=data, content_type="text/csv")

    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "malformed_feed",
        "message": message,
        "details": {"line": 3, "column": column},
    }
    assert not InboxEvent.objects.exists()
    assert worker_tasks == []


def test_the_same_idempotency_key_replays_the_upload_and_refuses_another_file(
    ops_client, worker_tasks, django_capture_on_commit_callbacks
):
    partner = feed_partner()
    key = {"Idempotency-Key": "feed-1"}

    with django_capture_on_commit_callbacks(execute=True):
        first = upload(ops_client, partner, **key)
        again = upload(ops_client, partner, **key)
        other_file = upload(ops_client, partner, b"sku,quantity\nMUG,1\n", **key)

    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert other_file.status_code == 422
    assert InboxEvent.objects.count() == 1
    assert len(worker_tasks) == 1


@pytest.mark.parametrize(
    ("target", "code"),
    [("woocommerce", "no_csv_feed"), ("inactive", "inactive_connector")],
)
def test_a_feed_to_a_connector_that_takes_none_is_a_409(ops_client, worker_tasks, target, code):
    refused = connector() if target == "woocommerce" else feed_partner(is_active=False)

    response = upload(ops_client, refused)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == code
    assert not InboxEvent.objects.exists()


def test_a_feed_upload_without_a_file_or_as_json_or_by_a_viewer_is_refused(
    ops_client, make_client, worker_tasks
):
    partner = feed_partner()
    url = f"{URL}{partner.pk}/feed/"

    missing = ops_client.post(url, {"other": "x"}, format="multipart")
    as_json = ops_client.post(url, {"file": "sku,quantity"}, format="json")
    by_viewer = upload(make_client(Role.VIEWER), partner)
    unknown = ops_client.post(f"{URL}999999/feed/", data=FEED, content_type="text/csv")

    assert missing.status_code == 400
    assert missing.json()["error"]["details"] == {
        "file": ["Required: the CSV as multipart field 'file' or as a text/csv body."]
    }
    assert as_json.status_code == 415
    assert by_viewer.status_code == 403
    assert unknown.status_code == 404
    assert not InboxEvent.objects.exists()


# --- Unknown options, credentials ---------------------------------------------------------------


def test_unknown_woocommerce_options_are_a_400_naming_each_key(ops_client):
    response = ops_client.post(
        URL, woo_body(options={"auht": "basic", "batchsize": 10}), format="json"
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert list(error["details"]) == ["options"]
    assert error["details"]["options"][0].startswith(
        "Unknown WooCommerce option(s): auht, batchsize;"
    )
    assert not Connector.objects.exists()


@pytest.mark.parametrize(
    ("kind", "body", "named"),
    [
        ("woocommerce", {"credentials": {"consumer_key": SECRET_KEY}}, "consumer_secret"),
        (
            "magento",
            {"base_url": "https://m.example.com", "webhook_secret": WEBHOOK_SECRET},
            "credentials.token",
        ),
    ],
)
def test_a_connector_without_credentials_cannot_be_switched_on(ops_client, kind, body, named):
    base = woo_body(kind=kind)
    base.pop("credentials")
    base.update(body)

    refused = ops_client.post(URL, base, format="json")
    prepared = ops_client.post(URL, {**base, "is_active": False}, format="json")
    switched_on = ops_client.patch(
        f"{URL}{prepared.json()['id']}/", {"is_active": True}, format="json"
    )

    assert refused.status_code == 400
    assert list(refused.json()["error"]["details"]) == ["credentials"]
    assert named in refused.json()["error"]["details"]["credentials"][0]
    assert prepared.status_code == 201
    assert switched_on.status_code == 400
    assert list(switched_on.json()["error"]["details"]) == ["credentials"]
    assert Connector.objects.get().is_active is False
    assert shows_no_secret(refused) and shows_no_secret(switched_on)


# --- Health: push state, problems -----------------------------------------------------------------


def test_a_switched_off_connector_is_not_shown_as_pushing(ops_client):
    off = connector(is_active=False, circuit_state=CircuitState.CLOSED)
    on = connector()

    off_health = ops_client.get(f"{URL}{off.pk}/health/").json()
    on_health = ops_client.get(f"{URL}{on.pk}/health/").json()

    assert off_health["push_state"] == "switched_off"
    assert on_health["push_state"] == "pushing"


def test_health_names_the_part_of_the_last_poll_that_failed(ops_client):
    existing = connector()
    SyncRun.objects.create(
        connector=existing,
        kind=SyncRunKind.POLL,
        finished_at=existing.created_at,
        is_ok=False,
        details={"failed_parts": {"orders": "WooCommerce answered 401 to GET /orders"}},
    )

    body = ops_client.get(f"{URL}{existing.pk}/health/").json()

    assert body["failed_poll_parts"] == {"orders": "WooCommerce answered 401 to GET /orders"}
    assert "orders_pulled_at" in body


def test_health_lists_open_problems_with_their_count_and_last_seen(ops_client):
    from connectors.engine.problems import record_problem

    existing = connector()
    first = record_problem(connector_id=existing.pk, kind="poll_failed", message="down")
    record_problem(connector_id=existing.pk, kind="poll_failed", message="still down")

    body = ops_client.get(f"{URL}{existing.pk}/health/").json()

    assert body["open_problems"] == 1
    [problem] = body["problems"]
    assert (problem["kind"], problem["subject"], problem["message"], problem["count"]) == (
        "poll_failed",
        "",
        "still down",
        2,
    )
    assert problem["first_seen_at"] == first.created_at.isoformat().replace("+00:00", "Z")
    assert problem["last_seen_at"] > problem["first_seen_at"]


# --- Archive and delete ------------------------------------------------------------------------


def test_a_connector_without_history_is_deleted_with_its_locations(ops_client):
    WarehouseFactory(code="MAIN")
    created = ops_client.post(
        URL, woo_body(locations=[{"location": "", "warehouse": "MAIN"}]), format="json"
    ).json()

    response = ops_client.delete(f"{URL}{created['id']}/")

    assert response.status_code == 204
    assert not Connector.objects.exists() and not LocationMapping.objects.exists()
    assert ops_client.get(f"{URL}{created['id']}/").status_code == 404


def test_a_connector_with_history_is_not_deleted_and_names_its_history(ops_client):
    existing = connector()
    SyncRun.objects.create(connector=existing, kind=SyncRunKind.TEST, is_ok=True)
    InboxEvent.objects.create(connector=existing, delivery_id="d1", state=InboxState.PROCESSED)

    response = ops_client.delete(f"{URL}{existing.pk}/")

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "connector_has_history"
    assert error["details"]["history"] == {"inbox_events": 1, "sync_runs": 1}
    assert "archive it instead" in error["message"]
    assert Connector.objects.filter(pk=existing.pk).exists()


def test_archiving_switches_off_hides_and_keeps_history(ops_client):
    from connectors.engine.problems import record_problem

    existing = connector(name="Old shop")
    kept = connector(name="Shop")
    InboxEvent.objects.create(connector=existing, delivery_id="d1", state=InboxState.PROCESSED)
    record_problem(connector_id=existing.pk, kind="poll_failed", message="down")

    archived = ops_client.post(f"{URL}{existing.pk}/archive/", format="json")
    again = ops_client.post(f"{URL}{existing.pk}/archive/", format="json")
    listed = [c["name"] for c in ops_client.get(URL).json()["results"]]
    listed_archived = [c["name"] for c in ops_client.get(f"{URL}?archived=true").json()["results"]]
    health = ops_client.get(f"{URL}{existing.pk}/health/").json()

    assert archived.status_code == 200, archived.json()
    assert archived.json()["is_active"] is False and archived.json()["archived_at"]
    assert again.json()["archived_at"] == archived.json()["archived_at"]
    assert listed == [kept.name] and listed_archived == [existing.name]
    assert (health["push_state"], health["open_problems"]) == ("archived", 0)
    assert InboxEvent.objects.filter(connector=existing).count() == 1


def test_an_archived_connector_is_switched_on_only_after_it_is_restored(ops_client, queued):
    existing = connector()
    ops_client.post(f"{URL}{existing.pk}/archive/", format="json")

    refused = ops_client.patch(f"{URL}{existing.pk}/", {"is_active": True}, format="json")
    sync = ops_client.post(f"{URL}{existing.pk}/sync/", {}, format="json")
    restored = ops_client.post(f"{URL}{existing.pk}/restore/", format="json")
    switched_on = ops_client.patch(f"{URL}{existing.pk}/", {"is_active": True}, format="json")

    assert refused.status_code == 400
    assert list(refused.json()["error"]["details"]) == ["is_active"]
    assert sync.status_code == 409 and queued == []
    assert restored.status_code == 200
    assert (restored.json()["archived_at"], restored.json()["is_active"]) == (None, False)
    assert switched_on.status_code == 200 and switched_on.json()["is_active"] is True


def test_archive_and_delete_need_ops_staff(make_client):
    existing = connector()
    viewer = make_client(Role.VIEWER)

    answers = [
        viewer.post(f"{URL}{existing.pk}/archive/", format="json"),
        viewer.delete(f"{URL}{existing.pk}/"),
    ]

    assert [answer.status_code for answer in answers] == [403, 403]
    assert Connector.objects.get(pk=existing.pk).archived_at is None
