"""A warehouse's own system drives transfers: signed pick instructions out through an
outbox, signed reports (picked, shipped, received) back through a webhook.

The WMS is a real HTTP server on a local port (tests/fakes/wms.py) that verifies with the
`standardwebhooks` library; reports are signed the same way and posted to the hub's view.
"""

import json
import socket
import time
from datetime import timedelta

import pytest
from celery import current_app
from django.urls import reverse
from django.utils import timezone
from standardwebhooks import Webhook

from stock.errors import InsufficientStock
from stock.models import StockLevel, StockMovement
from tests.fakes.server import Fault
from tests.fakes.wms import FakeWms
from tests.killed_worker import kill_worker_mid_request
from tests.stock.factories import SYSTEM, Balance, VariantFactory, balance_of, ledger_ids, stocked
from tests.warehouses.factories import WarehouseFactory
from transfers.models import (
    InstructionState,
    TransferEvent,
    TransferInstruction,
    TransferState,
    WarehouseSystemReport,
)
from transfers.services import (
    approve_transfer,
    deliver_instruction,
    replay_instruction,
    ship_transfer,
)
from transfers.services.instructions import due_instruction_ids
from transfers.services.wms import save_warehouse_system
from transfers.signing import generate_secret

from .factories import assert_identity, draft

SECRET = generate_secret()
DEST_SECRET = generate_secret()


@pytest.fixture
def north():
    return WarehouseFactory(code="NORTH")


@pytest.fixture
def south():
    return WarehouseFactory(code="SOUTH")


@pytest.fixture
def variant():
    return VariantFactory(sku="SHEET-Q")


@pytest.fixture
def wms():
    with FakeWms(secret=SECRET) as server:
        yield server


@pytest.fixture
def eager_tasks():
    """Tasks queued with delay_on_commit run in the caller when the commit callbacks run."""
    previous = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = True
    yield
    current_app.conf.task_always_eager = previous


@pytest.fixture
def quick_backoff(settings):
    settings.CONNECTORS_PUSH = {"backoff_seconds": 0.2, "max_backoff_seconds": 2.0}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def approved(north, south, variant, *, quantity=4, reference="T-1"):
    stocked(variant, north, 10)
    transfer = draft(north, south, (variant, quantity), reference=reference)
    return approve_transfer(transfer=transfer, actor=SYSTEM)


def wait_until_due(instruction_id: int) -> None:
    due_at = TransferInstruction.objects.get(pk=instruction_id).due_at
    time.sleep(max((due_at - timezone.now()).total_seconds(), 0) + 0.02)


# --- Instructions out ------------------------------------------------------------------


@pytest.mark.django_db
def test_approving_delivers_one_signed_pick_instruction(
    north, south, variant, wms, eager_tasks, django_capture_on_commit_callbacks
):
    save_warehouse_system(warehouse=north, endpoint_url=wms.endpoint_url, secret=SECRET)

    with django_capture_on_commit_callbacks(execute=True):
        transfer = approved(north, south, variant)

    instruction = TransferInstruction.objects.get(transfer=transfer)
    assert wms.applied == [
        {
            "type": "transfer.pick",
            "transfer_id": transfer.pk,
            "reference": "T-1",
            "source": {"id": north.pk, "code": "NORTH"},
            "destination": {"id": south.pk, "code": "SOUTH"},
            "lines": [{"sku": "SHEET-Q", "quantity": 4}],
            "expected_arrival": None,
            "callback_url": f"/transfers/wms/{north.pk}/events",
        }
    ]
    assert wms.applied_ids == [f"transfer-instruction-{instruction.pk}"]
    assert (instruction.state, instruction.attempts) == (InstructionState.SENT, 1)
    assert list(transfer.events.values_list("kind", flat=True))[-2:] == [
        "approved",
        "instruction_sent",
    ]


@pytest.mark.django_db
def test_the_instruction_commits_with_the_approval_or_not_at_all(north, south, variant):
    from django.db import transaction

    save_warehouse_system(warehouse=north, endpoint_url="https://wms.example/in", secret=SECRET)
    stocked(variant, north, 10)
    transfer = draft(north, south, (variant, 4))

    with pytest.raises(RuntimeError), transaction.atomic():
        approve_transfer(transfer=transfer, actor=SYSTEM)
        written = TransferInstruction.objects.get(transfer=transfer)
        raise RuntimeError("the approving transaction rolls back")

    assert (written.state, written.attempts, written.system.warehouse) == (
        InstructionState.PENDING,
        0,
        north,
    )
    transfer.refresh_from_db()
    assert transfer.state == TransferState.DRAFT
    assert not TransferInstruction.objects.exists()


@pytest.mark.django_db
def test_no_instruction_for_a_source_without_an_active_system(north, south, variant):
    save_warehouse_system(
        warehouse=north, endpoint_url="https://wms.example/in", secret=SECRET, is_active=False
    )
    save_warehouse_system(warehouse=south, endpoint_url="https://wms.example/in", secret=SECRET)

    transfer = approved(north, south, variant)

    assert transfer.state == TransferState.APPROVED
    assert not TransferInstruction.objects.exists()


@pytest.mark.django_db
def test_a_refused_approval_writes_no_instruction(north, south, variant):
    save_warehouse_system(warehouse=north, endpoint_url="https://wms.example/in", secret=SECRET)
    stocked(variant, north, 2)
    transfer = draft(north, south, (variant, 5))

    with pytest.raises(InsufficientStock):
        approve_transfer(transfer=transfer, actor=SYSTEM)

    assert not TransferInstruction.objects.exists()


@pytest.mark.django_db
def test_a_system_down_is_retried_with_backoff_then_delivered_once(
    north, south, variant, quick_backoff
):
    port = free_port()
    wms = FakeWms(secret=SECRET)
    save_warehouse_system(
        warehouse=north, endpoint_url=f"http://127.0.0.1:{port}/instructions", secret=SECRET
    )
    instruction = TransferInstruction.objects.get(transfer=approved(north, south, variant))

    refused = deliver_instruction(instruction_id=instruction.pk)
    after_refused = TransferInstruction.objects.get(pk=instruction.pk)
    too_early = deliver_instruction(instruction_id=instruction.pk)
    wms.start(port)
    try:
        wms.inject(Fault(status=500, times=1))
        wait_until_due(instruction.pk)
        server_error = deliver_instruction(instruction_id=instruction.pk)
        after_500 = TransferInstruction.objects.get(pk=instruction.pk)
        wait_until_due(instruction.pk)
        delivered = deliver_instruction(instruction_id=instruction.pk)
        again = deliver_instruction(instruction_id=instruction.pk)
    finally:
        wms.stop()

    assert (refused, too_early, server_error, delivered, again) == (
        "retry",
        "idle",
        "retry",
        "sent",
        "idle",
    )
    assert after_refused.attempts == 1 and "ConnectionError" in after_refused.last_error
    first_wait = (after_refused.due_at - after_refused.updated_at).total_seconds()
    assert 0.17 <= first_wait <= 0.23  # 0.2 s, with jitter
    assert after_500.attempts == 2 and "500" in after_500.last_error
    second_wait = (after_500.due_at - after_500.updated_at).total_seconds()
    assert 0.35 <= second_wait <= 0.45  # doubled
    assert len(wms.requests_to("/instructions")) == 2  # the 500, then the delivery
    assert len(wms.applied) == 1
    final = TransferInstruction.objects.get(pk=instruction.pk)
    assert (final.state, final.attempts, final.last_error) == (InstructionState.SENT, 3, "")


@pytest.mark.django_db
def test_a_refusal_is_a_dead_letter_on_the_timeline_until_replayed(
    north, south, variant, wms, settings
):
    save_warehouse_system(warehouse=north, endpoint_url=wms.endpoint_url, secret=SECRET)
    transfer = approved(north, south, variant)
    instruction = TransferInstruction.objects.get(transfer=transfer)
    wms.inject(Fault(status=422, times=1))

    outcome = deliver_instruction(instruction_id=instruction.pk)
    dead = TransferInstruction.objects.get(pk=instruction.pk)
    replay_instruction(instruction=TransferInstruction.objects.get(pk=instruction.pk))
    replayed = deliver_instruction(instruction_id=instruction.pk)

    assert (outcome, dead.state, replayed) == ("dead", InstructionState.DEAD, "sent")
    assert "422" in dead.last_error
    assert transfer.events.filter(kind="instruction_dead").count() == 1
    assert len(wms.applied) == 1


@pytest.mark.django_db
def test_attempts_run_out_into_a_dead_letter(north, south, variant, settings):
    settings.CONNECTORS_PUSH = {"backoff_seconds": 0.0, "max_item_attempts": 2}
    save_warehouse_system(
        warehouse=north,
        endpoint_url=f"http://127.0.0.1:{free_port()}/instructions",
        secret=SECRET,
    )
    instruction = TransferInstruction.objects.get(transfer=approved(north, south, variant))

    outcomes = [deliver_instruction(instruction_id=instruction.pk) for _ in range(3)]

    assert outcomes == ["retry", "dead", "idle"]
    dead = TransferInstruction.objects.get(pk=instruction.pk)
    assert (dead.state, dead.attempts) == (InstructionState.DEAD, 2)
    assert dead.last_error.startswith("Gave up after 2 attempts")


WORKER = """
import sys
import django
django.setup()
from django.conf import settings
settings.CONNECTORS_PUSH = {"lease_seconds": float(sys.argv[2])}
from transfers.services import deliver_instruction
print(deliver_instruction(instruction_id=int(sys.argv[1])), flush=True)
"""


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_delivery_loses_nothing(north, south, variant, wms, settings):
    """A real worker process is SIGKILLed while the WMS holds its request open; the WMS
    applies that request afterwards, and drops the retry by its webhook-id."""
    save_warehouse_system(warehouse=north, endpoint_url=wms.endpoint_url, secret=SECRET)
    instruction = TransferInstruction.objects.get(transfer=approved(north, south, variant))
    wms.inject(Fault(status=0, times=1, hang_seconds=3))
    lease = 3.0
    killed_at = kill_worker_mid_request(
        WORKER,
        [str(instruction.pk), str(lease)],
        reached=lambda: wms.requests_to("/instructions"),
        what="the WMS",
    )

    held = TransferInstruction.objects.get(pk=instruction.pk)
    during_lease = deliver_instruction(instruction_id=instruction.pk)
    while time.monotonic() - killed_at < lease + 0.2:
        time.sleep(0.1)
    swept = due_instruction_ids()
    after_lease = deliver_instruction(instruction_id=instruction.pk)

    assert (held.state, held.attempts) == (InstructionState.PENDING, 1)
    assert held.claimed_until is not None
    assert (during_lease, swept, after_lease) == ("idle", [instruction.pk], "sent")
    ids = [request.headers["webhook-id"] for request in wms.requests_to("/instructions")]
    assert ids == [held.message_id, held.message_id]
    assert len(wms.applied) == 1
    sent = TransferInstruction.objects.get(pk=instruction.pk)
    assert (sent.state, sent.attempts) == (InstructionState.SENT, 2)


# --- Reports back ----------------------------------------------------------------------


def post_report(client, warehouse, body: dict, *, secret=SECRET, webhook_id="msg-1", at=None):
    raw = json.dumps(body).encode()
    moment = at or timezone.now()
    headers = {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, moment, raw),
    }
    return client.post(
        reverse("transfers:wms-events", args=[warehouse.pk]),
        data=raw,
        content_type="application/json",
        headers=headers,
    )


@pytest.fixture
def systems(north, south):
    save_warehouse_system(warehouse=north, endpoint_url="https://north.example/in", secret=SECRET)
    save_warehouse_system(
        warehouse=south, endpoint_url="https://south.example/in", secret=DEST_SECRET
    )


def level(variant, warehouse) -> StockLevel:
    return StockLevel.objects.get(variant=variant, warehouse=warehouse)


def received_body(*lines, reference="T-1", receipt="R-1", over_receipt=False):
    return {
        "type": "received",
        "transfer": reference,
        "receipt_reference": receipt,
        "lines": list(lines),
        "over_receipt": over_receipt,
    }


@pytest.mark.django_db
def test_signed_reports_move_the_transfer_and_the_stock(client, north, south, variant, systems):
    transfer = approved(north, south, variant)

    picked = post_report(client, north, {"type": "picked", "transfer": "T-1"}, webhook_id="p")
    shipped = post_report(client, north, {"type": "shipped", "transfer": "T-1"}, webhook_id="s")
    received = post_report(
        client,
        south,
        received_body(
            {
                "sku": "SHEET-Q",
                "accepted": 3,
                "rejected": 1,
                "rejection_reason": "damaged",
                "rejected_disposition": "unsellable",
            }
        ),
        secret=DEST_SECRET,
        webhook_id="r",
    )

    assert [picked.status_code, shipped.status_code, received.status_code] == [200, 200, 200]
    assert picked.json()["state"] == "picked"
    assert shipped.json()["state"] == "shipped"
    assert received.json() == {
        "type": "received",
        "transfer": "T-1",
        "receipt_reference": "R-1",
        "state": "received",
        "replay": False,
    }
    transfer.refresh_from_db()
    assert transfer.state == TransferState.RECEIVED
    assert balance_of(level(variant, north)) == Balance(on_hand=6, version=3)
    assert balance_of(level(variant, south)) == Balance(on_hand=4, unsellable=1, version=3)
    assert set(
        StockMovement.objects.filter(document="T-1").values_list("actor_label", flat=True)
    ) == {"tests", "wms:NORTH", "wms:SOUTH"}
    assert_identity(transfer)


@pytest.mark.django_db
def test_a_replayed_webhook_id_changes_nothing(client, north, south, variant, systems):
    approved(north, south, variant)
    first = post_report(client, north, {"type": "shipped", "transfer": "T-1"}, webhook_id="s")
    before = (ledger_ids(), list(TransferEvent.objects.values_list("pk", flat=True)))

    again = post_report(client, north, {"type": "shipped", "transfer": "T-1"}, webhook_id="s")

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == {**first.json(), "replay": True}
    assert (ledger_ids(), list(TransferEvent.objects.values_list("pk", flat=True))) == before
    assert WarehouseSystemReport.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("tamper", "code"),
    [
        ({"webhook-signature": "v1,AAAA"}, "invalid_signature"),
        ({"webhook-signature": ""}, "invalid_signature"),
        ({"secret": generate_secret()}, "invalid_signature"),
        ({"at": timezone.now() - timedelta(minutes=6)}, "stale_timestamp"),
    ],
)
def test_a_bad_or_stale_signature_is_refused(client, north, south, variant, systems, tamper, code):
    approved(north, south, variant)
    before = ledger_ids()
    body = {"type": "shipped", "transfer": "T-1"}

    if "webhook-signature" in tamper:
        raw = json.dumps(body).encode()
        response = client.post(
            reverse("transfers:wms-events", args=[north.pk]),
            data=raw,
            content_type="application/json",
            headers={
                "webhook-id": "x",
                "webhook-timestamp": str(int(time.time())),
                **tamper,
            },
        )
    else:
        at = tamper.get("at")
        response = post_report(client, north, body, secret=tamper.get("secret", SECRET), at=at)

    assert (response.status_code, response.json()["error"]["code"]) == (401, code)
    assert ledger_ids() == before
    assert not WarehouseSystemReport.objects.exists()


@pytest.mark.django_db
def test_a_report_from_the_wrong_warehouse_is_forbidden(client, north, south, variant, systems):
    approved(north, south, variant)
    before = ledger_ids()

    response = post_report(
        client, south, {"type": "shipped", "transfer": "T-1"}, secret=DEST_SECRET
    )

    assert (response.status_code, response.json()["error"]["code"]) == (403, "wrong_warehouse")
    assert ledger_ids() == before


@pytest.mark.django_db
def test_an_over_receipt_is_refused_unless_it_says_so(client, north, south, variant, systems):
    transfer = ship_transfer(transfer=approved(north, south, variant), actor=SYSTEM)
    before = (ledger_ids(), balance_of(level(variant, south)))

    response = post_report(
        client,
        south,
        received_body({"sku": "SHEET-Q", "accepted": 5}),
        secret=DEST_SECRET,
    )

    assert (response.status_code, response.json()["error"]["code"]) == (422, "over_receipt")
    assert (ledger_ids(), balance_of(level(variant, south))) == before
    assert not transfer.receipts.exists()
    assert not WarehouseSystemReport.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"type": "shipped", "transfer": "NOPE"}, 404, "not_found"),
        ({"type": "received", "transfer": "T-1"}, 400, "validation_error"),
        ({"type": "lost", "transfer": "T-1"}, 400, "unknown_type"),
        ({"type": "picked", "transfer": 7}, 400, "validation_error"),
    ],
)
def test_a_report_naming_nothing_valid_is_refused(
    client, north, south, variant, systems, body, status, code
):
    approved(north, south, variant)
    before = ledger_ids()

    response = post_report(client, north, body)

    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    assert ledger_ids() == before


@pytest.mark.django_db
def test_a_report_that_is_not_json_is_a_400(client, north, south, variant, systems):
    raw = b"{not json"
    moment = timezone.now()

    response = client.post(
        reverse("transfers:wms-events", args=[north.pk]),
        data=raw,
        content_type="application/json",
        headers={
            "webhook-id": "bad",
            "webhook-timestamp": str(int(moment.timestamp())),
            "webhook-signature": Webhook(SECRET).sign("bad", moment, raw),
        },
    )

    assert (response.status_code, response.json()["error"]["code"]) == (400, "malformed_json")


@pytest.mark.django_db
def test_an_unknown_sku_or_a_wrong_state_writes_nothing(client, north, south, variant, systems):
    approved(north, south, variant)
    before = ledger_ids()

    unknown = post_report(
        client,
        south,
        received_body({"sku": "NO-SUCH", "accepted": 1}),
        secret=DEST_SECRET,
        webhook_id="u",
    )
    too_soon = post_report(
        client,
        south,
        received_body({"sku": "SHEET-Q", "accepted": 1}),
        secret=DEST_SECRET,
        webhook_id="w",
    )

    assert (unknown.status_code, unknown.json()["error"]["code"]) == (422, "unknown_sku")
    assert (too_soon.status_code, too_soon.json()["error"]["code"]) == (
        409,
        "invalid_transfer_state",
    )
    assert ledger_ids() == before
    assert not WarehouseSystemReport.objects.exists()


@pytest.mark.django_db
def test_a_warehouse_without_an_active_system_is_a_404(client, north, south, variant):
    approved(north, south, variant)

    response = post_report(client, north, {"type": "shipped", "transfer": "T-1"})

    assert response.status_code == 404


@pytest.mark.django_db
def test_the_webhook_needs_no_session_and_no_csrf_token(north, south, variant, systems):
    from django.test import Client

    approved(north, south, variant)

    response = post_report(
        Client(enforce_csrf_checks=True), north, {"type": "picked", "transfer": "T-1"}
    )

    assert response.status_code == 200


@pytest.mark.django_db(transaction=True)
def test_the_same_report_ten_times_at_once_is_one_transition(north, south, variant, systems):
    from django.test import Client

    from tests.stock.factories import run_at_once

    transfer = ship_transfer(transfer=approved(north, south, variant), actor=SYSTEM)
    body = received_body({"sku": "SHEET-Q", "accepted": 4})

    def report():
        response = post_report(Client(), south, body, secret=DEST_SECRET, webhook_id="same")
        return response.status_code, response.json()["replay"]

    attempts = run_at_once([report] * 10, workers=4)

    assert [attempt.error for attempt in attempts] == [None] * 10
    assert sorted(attempt.result for attempt in attempts) == [(200, False)] + [(200, True)] * 9
    assert transfer.receipts.count() == 1
    assert WarehouseSystemReport.objects.count() == 1
    assert balance_of(level(variant, south)).on_hand == 4
    assert_identity(transfer)


# --- The system's settings -------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"endpoint_url": "ftp://wms.example/in"}, "endpoint_url"),
        ({"endpoint_url": "not a url"}, "endpoint_url"),
        ({"endpoint_url": "https://wms.example/" + "a" * 500}, "endpoint_url"),
        ({"secret": "hunter2"}, "secret"),
        ({"secret": "whsec_" + "c2hvcnQ="}, "secret"),  # base64 of 5 bytes
        ({"secret": "whsec_not*base64"}, "secret"),
    ],
)
def test_a_system_with_a_bad_url_or_secret_is_refused(north, fields, field):
    from transfers.errors import InvalidWarehouseSystem
    from transfers.models import WarehouseSystem

    settings_given = {"endpoint_url": "https://wms.example/in", "secret": SECRET, **fields}

    with pytest.raises(InvalidWarehouseSystem) as refused:
        save_warehouse_system(warehouse=north, **settings_given)

    assert refused.value.details == {"field": field}
    assert not WarehouseSystem.objects.exists()


@pytest.mark.django_db
def test_a_new_system_gets_a_secret_kept_encrypted_and_kept_on_later_saves(north):
    from django.db import connection

    from transfers.signing import secret_problem

    system = save_warehouse_system(warehouse=north, endpoint_url="http://wms.local:8080/in")
    generated = system.secret
    save_warehouse_system(warehouse=north, endpoint_url="https://wms.example/in")
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM transfers_warehousesystem WHERE id = %s", [system.pk])
        stored = cursor.fetchone()[0]

    system.refresh_from_db()
    assert secret_problem(generated) is None
    assert (system.secret, system.endpoint_url) == (generated, "https://wms.example/in")
    assert generated not in stored and stored.startswith("gAAAA")  # a Fernet token
    assert generated not in str(system)
