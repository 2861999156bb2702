import json
from functools import partial

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from stock.api.bulk import BODY_FIELDS, MAX_ROWS, ROW_FIELDS
from stock.api.serializers.bulk import BulkRowInput, BulkStockInput
from stock.models import BackorderPolicy, Product, StockLevel, StockMovement, Variant
from tests.stock.factories import VariantFactory, reserved, run_at_once, stocked
from tests.warehouses.factories import (
    ChannelWarehouseFactory,
    SalesChannelFactory,
    WarehouseFactory,
)
from warehouses.access import Role

pytestmark = pytest.mark.django_db
URL = "/api/v1/bulk/stock/"


@pytest.fixture
def shelf():
    """Two SKUs with 10 on hand in Berlin and Baltimore, and a third SKU never stocked."""
    sheet, towel = VariantFactory(sku="SHEET"), VariantFactory(sku="TOWEL")
    VariantFactory(sku="PILLOW")
    berlin, baltimore = WarehouseFactory(code="BER"), WarehouseFactory(code="BAL")
    for variant in (sheet, towel):
        for warehouse in (berlin, baltimore):
            stocked(variant, warehouse, 10)
    return berlin, baltimore


def state():
    """Every balance and every ledger row id: equal states mean nothing was written."""
    return (
        list(
            StockLevel.objects.order_by("pk").values_list(
                "pk", "on_hand", "reserved", "unsellable", "safety_stock", "version"
            )
        ),
        list(StockMovement.objects.order_by("pk").values_list("pk", flat=True)),
    )


def on_hand(sku: str, warehouse: str) -> int:
    return StockLevel.objects.get(variant__sku=sku, warehouse__code=warehouse).on_hand


def count(sku: str, warehouse: str, counted: int, **extra) -> dict:
    return {"sku": sku, "warehouse": warehouse, "counted": counted, **extra}


def delta(sku: str, warehouse: str, change: int, **extra) -> dict:
    return {"sku": sku, "warehouse": warehouse, "delta": change, **extra}


def post(client, rows, *, query: str = "", **extra):
    # ASCII JSON, so that a lone surrogate travels as the escape \ud800, as clients send it.
    body = json.dumps({"rows": rows, **extra.pop("body", {})})
    return client.post(f"{URL}{query}", body, content_type="application/json", **extra)


# --- Success --------------------------------------------------------------------------------


def test_counts_and_deltas_apply_in_one_batch_with_a_report_per_row(
    ops_client, shelf, verify_ledger_clean, django_capture_on_commit_callbacks
):
    rows = [
        count("SHEET", "BER", 7),
        count("SHEET", "BAL", 10),
        delta("TOWEL", "BER", -4, note="water damage", reason="damaged"),
        count("PILLOW", "BER", 5),
    ]
    before = StockMovement.objects.count()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = post(ops_client, rows)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["dry_run"] is False
    assert body["summary"] == {"rows": 4, "applied": 3, "unchanged": 1, "replayed": 0}
    outcomes = [
        (row["index"], row["sku"], row["warehouse"], row["outcome"], row["delta_on_hand"])
        for row in body["rows"]
    ]
    assert outcomes == [
        (0, "SHEET", "BER", "applied", -3),
        (1, "SHEET", "BAL", "unchanged", 0),
        (2, "TOWEL", "BER", "applied", -4),
        (3, "PILLOW", "BER", "applied", 5),
    ]
    assert [(row["on_hand"], row["available"]) for row in body["rows"]] == [
        (7, 7),
        (10, 10),
        (6, 6),
        (5, 5),
    ]
    assert body["rows"][1]["movement_id"] is None
    written = StockMovement.objects.filter(
        pk__in=[row["movement_id"] for row in body["rows"] if row["movement_id"]]
    ).order_by("pk")
    assert [
        (m.variant.sku, m.kind, m.reason, m.note, m.delta_on_hand, m.on_hand_after) for m in written
    ] == [
        ("SHEET", "count", "stocktake", "", -3, 7),
        ("TOWEL", "adjustment", "damaged", "water damage", -4, 6),
        ("PILLOW", "count", "stocktake", "", 5, 5),
    ]
    assert {(m.source, m.actor_kind, m.actor_label) for m in written} == {
        ("api", "api_client", "ops")
    }
    assert StockMovement.objects.count() == before + 3
    assert (on_hand("SHEET", "BER"), on_hand("TOWEL", "BER"), on_hand("PILLOW", "BER")) == (7, 6, 5)
    assert len(callbacks) == 1
    verify_ledger_clean()


def test_a_delta_without_a_reason_is_recorded_as_a_correction(ops_client, shelf):
    response = post(ops_client, [delta("SHEET", "BER", 2)])

    assert response.status_code == 201
    movement = StockMovement.objects.get(pk=response.json()["rows"][0]["movement_id"])
    assert (movement.kind, movement.reason) == ("adjustment", "correction")


def test_available_in_the_report_accounts_for_reservations(ops_client, shelf):
    reserved(Variant.objects.get(sku="SHEET"), shelf[0], 3)

    response = post(ops_client, [count("SHEET", "BER", 8)])

    assert response.status_code == 201
    assert response.json()["rows"][0] | {"movement_id": None} == {
        "index": 0,
        "sku": "SHEET",
        "warehouse": "BER",
        "outcome": "applied",
        "delta_on_hand": -2,
        "on_hand": 8,
        "available": 5,
        "movement_id": None,
    }


def test_the_same_counts_again_write_no_ledger_rows(ops_client, shelf):
    rows = [count("SHEET", "BER", 3), count("TOWEL", "BAL", 12)]
    first = post(ops_client, rows, HTTP_IDEMPOTENCY_KEY="first")
    after_first = state()

    second = post(ops_client, rows, HTTP_IDEMPOTENCY_KEY="second")

    assert first.status_code == 201
    assert second.status_code == 200
    assert "Idempotent-Replayed" not in second.headers
    assert second.json()["summary"] == {"rows": 2, "applied": 0, "unchanged": 2, "replayed": 0}
    assert [(row["on_hand"], row["movement_id"]) for row in second.json()["rows"]] == [
        (3, None),
        (12, None),
    ]
    assert state() == after_first


def test_a_second_payload_writes_only_the_rows_whose_values_changed(ops_client, shelf):
    post(ops_client, [count("SHEET", "BER", 3), count("TOWEL", "BER", 4)])
    ledger_before = StockMovement.objects.count()

    response = post(ops_client, [count("SHEET", "BER", 3), count("TOWEL", "BER", 9)])

    assert [row["outcome"] for row in response.json()["rows"]] == ["unchanged", "applied"]
    assert StockMovement.objects.count() == ledger_before + 1


def test_a_batch_reference_makes_resending_a_delta_batch_a_replay(ops_client, shelf):
    rows = [delta("SHEET", "BER", 5), delta("TOWEL", "BER", -1)]
    first = post(ops_client, rows, body={"reference": "grn-7"})
    after_first = state()

    again = post(ops_client, rows, body={"reference": "grn-7"})

    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["summary"]["replayed"] == 2
    assert [row["on_hand"] for row in again.json()["rows"]] == [15, 9]
    assert state() == after_first
    movement = StockMovement.objects.get(pk=first.json()["rows"][0]["movement_id"])
    assert movement.document == "grn-7"
    assert movement.reference == f"user:{ops_client.user.pk}:bulk:grn-7:SHEET@BER"


def test_a_row_reference_seen_before_is_replayed_and_the_others_apply(ops_client, shelf):
    post(ops_client, [delta("SHEET", "BER", 5, reference="line-1")])
    ledger_before = StockMovement.objects.count()

    response = post(
        ops_client,
        [delta("SHEET", "BER", 5, reference="line-1"), delta("TOWEL", "BER", 1, reference="l2")],
    )

    assert response.status_code == 201
    assert [row["outcome"] for row in response.json()["rows"]] == ["replayed", "applied"]
    assert on_hand("SHEET", "BER") == 15
    assert StockMovement.objects.count() == ledger_before + 1


def test_ten_thousand_rows_are_accepted_and_applied(ops_client, verify_ledger_clean):
    product = Product.objects.create(name="Many")
    Variant.objects.bulk_create(
        [Variant(product=product, sku=f"MANY-{number:05d}") for number in range(MAX_ROWS)]
    )
    WarehouseFactory(code="BER")
    rows = [count(f"MANY-{number:05d}", "BER", number % 7 + 1) for number in range(MAX_ROWS)]

    response = post(ops_client, rows)

    assert response.status_code == 201
    assert response.json()["summary"] == {
        "rows": MAX_ROWS,
        "applied": MAX_ROWS,
        "unchanged": 0,
        "replayed": 0,
    }
    assert StockMovement.objects.filter(source="api").count() == MAX_ROWS
    assert on_hand("MANY-09999", "BER") == 9999 % 7 + 1
    verify_ledger_clean()


# --- Dry run --------------------------------------------------------------------------------


@pytest.mark.parametrize("key", [None, "dry-key"], ids=["no-key", "idempotency-key"])
def test_dry_run_reports_what_would_change_and_writes_and_publishes_nothing(
    ops_client, shelf, django_capture_on_commit_callbacks, key
):
    rows = [count("SHEET", "BER", 7), count("SHEET", "BAL", 10), count("PILLOW", "BAL", 4)]
    before = state()
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = post(ops_client, rows, query="?dry_run=1", **headers)

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["dry_run"] is True
    assert body["summary"] == {"rows": 3, "applied": 2, "unchanged": 1, "replayed": 0}
    assert [(row["outcome"], row["on_hand"], row["movement_id"]) for row in body["rows"]] == [
        ("applied", 7, None),
        ("unchanged", 10, None),
        ("applied", 4, None),
    ]
    assert state() == before
    assert not StockLevel.objects.filter(variant__sku="PILLOW").exists()
    assert callbacks == []


def test_dry_run_answers_as_the_real_run_then_does(ops_client, shelf):
    rows = [count("SHEET", "BER", 2), delta("TOWEL", "BAL", 6)]

    dry = post(ops_client, rows, query="?dry_run=true")
    real = post(ops_client, rows)

    def without_ids(body):
        return [row | {"movement_id": None} for row in body["rows"]]

    assert dry.json()["dry_run"] is True
    assert real.json()["dry_run"] is False
    assert without_ids(dry.json()) == without_ids(real.json())
    assert dry.json()["summary"] == real.json()["summary"]


def test_dry_run_of_a_refused_batch_is_refused_alike_and_writes_nothing(ops_client, shelf):
    rows = [delta("SHEET", "BER", -11)]
    before = state()

    response = post(ops_client, rows, query="?dry_run=1")

    assert response.status_code == 409
    assert response.json()["error"]["details"]["errors"][0]["code"] == "insufficient_stock"
    assert state() == before


def test_dry_run_value_other_than_a_boolean_is_400(ops_client, shelf):
    before = state()

    response = post(ops_client, [count("SHEET", "BER", 1)], query="?dry_run=maybe")

    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("dry_run:")
    assert state() == before


# --- Refusals: nothing written, every refused row named -------------------------------------


@pytest.mark.parametrize(
    ("bad_row", "field", "message"),
    [
        (count("SHEET", "BAL", "5"), "counted", "Must be a JSON integer."),
        (count("SHEET", "BAL", 2.5), "counted", "Must be a JSON integer."),
        (count("SHEET", "BAL", True), "counted", "Must be a JSON integer."),
        (count("SHEET", "BAL", None), "counted", "This field may not be null."),
        (
            count("SHEET", "BAL", -1),
            "counted",
            "Ensure this value is greater than or equal to 0.",
        ),
        (
            count("SHEET", "BAL", 10**12),
            "counted",
            "Ensure this value is less than or equal to 1000000000.",
        ),
        (delta("SHEET", "BAL", 0), "delta", "Must not be zero."),
        (delta("SHEET", "BAL", 1.0), "delta", "Must be a JSON integer."),
        (count("SHEET", "BAL", 1, delta=1), "counted", "Give exactly one of counted or delta."),
        ({"sku": "SHEET", "warehouse": "BAL"}, "counted", "Give exactly one of counted or delta."),
        ({"warehouse": "BAL", "counted": 1}, "sku", "This field is required."),
        (count("SHEET", "  ", 1), "warehouse", "This field may not be blank."),
        (count(5, "BAL", 1), "sku", "Not a valid string."),
        (count("SH\x00EET", "BAL", 1), "sku", "Null characters are not allowed."),
        (count("SHEET", "BAL", 1, note="\ud800"), "note", "Surrogate characters are not allowed."),
        (count("X" * 65, "BAL", 1), "sku", "Ensure this field has no more than 64 characters."),
        (count("SHEET", "BAL", 1, colour="red"), "colour", "Unknown field."),
        (count("SHEET", "BAL", 1, note=None), "note", "This field may not be null."),
        (
            count("SHEET", "BAL", 1, reference="r" * 201),
            "reference",
            "Ensure this field has no more than 200 characters.",
        ),
        (
            count("SHEET", "BAL", 1, expected_on_hand="10"),
            "expected_on_hand",
            "Must be a JSON integer.",
        ),
    ],
)
def test_a_malformed_row_is_400_naming_its_index_and_field(
    ops_client, shelf, bad_row, field, message
):
    before = state()

    response = post(ops_client, [count("SHEET", "BER", 1), bad_row, count("TOWEL", "BER", 1)])

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["message"] == (
        f"1 of 3 rows refused, nothing was written. First: rows[1].{field}: {message}"
    )
    assert [
        (e["index"], e["field"], e["code"], e["message"]) for e in error["details"]["errors"]
    ] == [(1, field, "validation_error", message)]
    assert state() == before


def test_text_json_output_cannot_hold_is_echoed_escaped(ops_client, shelf):
    response = post(ops_client, [count("SH\ud800", "BAL", 1, **{"x\udfff": 1})])

    assert response.status_code == 400
    problems = response.json()["error"]["details"]["errors"]
    assert [(e["sku"], e["field"], e["message"]) for e in problems] == [
        ("SH\\ud800", "x\\udfff", "Unknown field."),
        ("SH\\ud800", "sku", "Surrogate characters are not allowed."),
    ]


def test_an_unknown_reason_is_400_listing_the_reasons(ops_client, shelf):
    response = post(ops_client, [count("SHEET", "BER", 1, reason="gift")])

    assert response.status_code == 400
    problem = response.json()["error"]["details"]["errors"][0]
    assert problem["field"] == "reason"
    assert problem["message"].startswith("'gift' is not a valid choice; use one of: ")
    assert "stocktake" in problem["message"]


def test_every_malformed_row_is_listed_not_only_the_first(ops_client, shelf):
    before = state()
    rows = [count("SHEET", "BER", -1), "not a row", count("TOWEL", "BER", 1), {"delta": "x"}]

    response = post(ops_client, rows)

    assert response.status_code == 400
    problems = [
        (e["index"], e["sku"], e["field"], e["message"])
        for e in response.json()["error"]["details"]["errors"]
    ]
    assert problems == [
        (0, "SHEET", "counted", "Ensure this value is greater than or equal to 0."),
        (1, None, None, "Expected a JSON object."),
        (3, None, "sku", "This field is required."),
        (3, None, "warehouse", "This field is required."),
        (3, None, "delta", "Must be a JSON integer."),
    ]
    assert response.json()["error"]["message"].startswith("3 of 4 rows refused")
    assert state() == before


def test_unknown_skus_and_warehouses_are_400_with_their_rows(ops_client, shelf):
    before = state()
    rows = [count("SHEET", "BER", 1), count("NOPE", "BER", 1), count("SHEET", "PAR", 1)]

    response = post(ops_client, rows)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert [
        (e["index"], e["sku"], e["warehouse"], e["field"], e["code"], e["message"])
        for e in error["details"]["errors"]
    ] == [
        (1, "NOPE", "BER", "sku", "unknown_sku", "No variant has SKU 'NOPE'."),
        (2, "SHEET", "PAR", "warehouse", "unknown_warehouse", "No warehouse has code 'PAR'."),
    ]
    assert state() == before


def test_the_same_sku_and_warehouse_twice_is_400_naming_both_rows(ops_client, shelf):
    before = state()
    rows = [count("SHEET", "BER", 1), count("TOWEL", "BER", 1), delta("SHEET", "BER", 2)]

    response = post(ops_client, rows)

    assert response.status_code == 400
    [problem] = response.json()["error"]["details"]["errors"]
    assert (problem["index"], problem["code"]) == (2, "duplicate_row")
    assert problem["message"] == (
        "SHEET at BER is already row 0; give each SKU and warehouse once."
    )
    assert state() == before


def test_stock_rules_refuse_the_batch_with_409_listing_each_row(ops_client, shelf):
    before = state()
    rows = [
        count("SHEET", "BER", 1),
        delta("SHEET", "BAL", -11),
        count("TOWEL", "BER", 4, expected_on_hand=9),
        delta("TOWEL", "BAL", -10),
    ]

    response = post(ops_client, rows)

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "batch_rejected"
    assert [
        (e["index"], e["sku"], e["warehouse"], e["code"]) for e in error["details"]["errors"]
    ] == [
        (1, "SHEET", "BAL", "insufficient_stock"),
        (2, "TOWEL", "BER", "conflict_expected_on_hand"),
    ]
    assert error["details"]["errors"][0]["details"]["short_by"] == 1
    assert error["details"]["errors"][1]["details"]["current_on_hand"] == 10
    assert state() == before


def test_an_inactive_warehouse_refuses_the_batch_with_409(ops_client, shelf):
    _, baltimore = shelf
    baltimore.is_active = False
    baltimore.save(update_fields=["is_active"])
    before = state()

    response = post(ops_client, [count("SHEET", "BER", 1), count("SHEET", "BAL", 3)])

    assert response.status_code == 409
    [problem] = response.json()["error"]["details"]["errors"]
    assert (problem["index"], problem["code"]) == (1, "inactive_warehouse")
    assert state() == before


def test_a_sku_that_tracks_no_stock_refuses_the_batch_with_409(ops_client, shelf):
    Variant.objects.filter(sku="PILLOW").update(manage_stock=False)
    before = state()

    response = post(ops_client, [count("PILLOW", "BER", 3)])

    assert response.status_code == 409
    [problem] = response.json()["error"]["details"]["errors"]
    assert (problem["index"], problem["code"]) == (0, "stock_not_managed")
    assert state() == before


def test_a_count_below_what_is_reserved_needs_backorders(ops_client, shelf):
    sheet = Variant.objects.get(sku="SHEET")
    reserved(sheet, shelf[0], 6)
    before = state()

    refused = post(ops_client, [count("SHEET", "BER", 5)])

    assert refused.status_code == 409
    assert refused.json()["error"]["details"]["errors"][0]["details"]["short_by"] == 1
    assert state() == before
    assert sheet.backorders == BackorderPolicy.DENY


def test_the_same_row_reference_twice_in_a_batch_is_400(ops_client, shelf):
    before = state()
    rows = [delta("SHEET", "BER", 1, reference="r1"), delta("TOWEL", "BER", 1, reference="r1")]

    response = post(ops_client, rows)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "batch_rejected"
    [problem] = response.json()["error"]["details"]["errors"]
    assert (problem["index"], problem["code"]) == (1, "duplicate_reference")
    assert state() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rows": [count("SHEET", "BER", 1)], "dry_run": True}, "dry_run"),
        ({}, "rows"),
        ({"rows": []}, "rows"),
        ({"rows": {"sku": "SHEET"}}, "rows"),
        ({"rows": [count("SHEET", "BER", 1)], "reference": ""}, "reference"),
        ({"rows": [count("SHEET", "BER", 1)], "reference": 7}, "reference"),
        ({"rows": [count("SHEET", "BER", 1)], "reference": "r" * 101}, "reference"),
    ],
)
def test_a_malformed_body_is_400_naming_the_field(ops_client, shelf, body, field):
    before = state()

    response = ops_client.post(URL, body, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["message"].startswith(f"{field}: ")
    assert field in error["details"]
    assert state() == before


def test_a_body_that_is_not_an_object_is_400(ops_client, shelf):
    response = ops_client.post(URL, [count("SHEET", "BER", 1)], format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


def test_malformed_json_is_400(ops_client):
    response = ops_client.post(URL, '{"rows": [', content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"


def test_more_than_ten_thousand_rows_is_400_naming_the_limit(ops_client, shelf):
    before = state()
    rows = [count("SHEET", "BER", 1)] * (MAX_ROWS + 1)

    response = post(ops_client, rows)

    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        "rows: At most 10000 rows per request, got 10001; split the batch."
    )
    assert state() == before


# --- Who may ---------------------------------------------------------------------------------


def test_a_manager_is_refused_the_whole_batch_listing_the_rows_outside_their_warehouses(
    make_client, shelf
):
    berlin, _ = shelf
    manager = make_client(Role.WAREHOUSE_MANAGER, warehouses=[berlin])
    before = state()
    rows = [count("SHEET", "BER", 1), count("SHEET", "BAL", 1), count("TOWEL", "BAL", 1)]

    response = post(manager, rows)

    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "permission_denied"
    assert [(e["index"], e["warehouse"], e["message"]) for e in error["details"]["errors"]] == [
        (1, "BAL", "You may not change stock at warehouse BAL."),
        (2, "BAL", "You may not change stock at warehouse BAL."),
    ]
    assert state() == before


def test_a_manager_may_write_a_batch_within_their_warehouses(make_client, shelf):
    berlin, _ = shelf
    manager = make_client(Role.WAREHOUSE_MANAGER, warehouses=[berlin])

    response = post(manager, [count("SHEET", "BER", 1), count("TOWEL", "BER", 2)])

    assert response.status_code == 201
    assert (on_hand("SHEET", "BER"), on_hand("TOWEL", "BER")) == (1, 2)


def test_an_integration_may_write_at_its_channels_warehouses_only(make_client, shelf):
    _, baltimore = shelf
    channel = SalesChannelFactory(code="shop")
    ChannelWarehouseFactory(channel=channel, warehouse=baltimore)
    integration = make_client(Role.INTEGRATION, channels=[channel])

    allowed = post(integration, [count("SHEET", "BAL", 4)])
    refused = post(integration, [count("SHEET", "BER", 4)])

    assert allowed.status_code == 201
    assert refused.status_code == 403
    assert on_hand("SHEET", "BAL") == 4
    assert on_hand("SHEET", "BER") == 10


def test_a_viewer_may_not_write_in_bulk(make_client, shelf):
    viewer = make_client(Role.VIEWER)
    before = state()

    response = post(viewer, [count("SHEET", "BER", 1)])

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert state() == before


def test_anonymous_requests_are_401(client, shelf):
    response = client.post(
        URL, {"rows": [count("SHEET", "BER", 1)]}, content_type="application/json"
    )

    assert response.status_code == 401


# --- Idempotency-Key --------------------------------------------------------------------------


def test_the_same_idempotency_key_replays_the_answer_and_a_new_body_is_422(ops_client, shelf):
    rows = [delta("SHEET", "BER", 2), count("TOWEL", "BER", 1)]
    first = post(ops_client, rows, HTTP_IDEMPOTENCY_KEY="bulk-1")
    after_first = state()

    again = post(ops_client, rows, HTTP_IDEMPOTENCY_KEY="bulk-1")
    other = post(ops_client, [delta("SHEET", "BER", 3)], HTTP_IDEMPOTENCY_KEY="bulk-1")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert state() == after_first
    assert on_hand("SHEET", "BER") == 12


def test_a_refused_batch_is_replayed_as_refused_under_its_key(ops_client, shelf):
    rows = [delta("SHEET", "BER", -50)]
    before = state()

    first = post(ops_client, rows, HTTP_IDEMPOTENCY_KEY="bulk-2")
    again = post(ops_client, rows, HTTP_IDEMPOTENCY_KEY="bulk-2")

    assert first.status_code == again.status_code == 409
    assert again.json() == first.json()
    assert state() == before


# --- Races ------------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_batches_in_opposite_orders_dry_runs_and_adjustments_at_once_all_apply_exactly(
    ops_client, verify_ledger_clean, verify_ledger_chain
):
    # Each batch locks its levels in primary-key order whatever the order of its rows, so
    # batches listing the same levels in opposite orders cannot deadlock.
    berlin = WarehouseFactory(code="BER")
    skus = [f"RACE-{number:02d}" for number in range(20)]
    for sku in skus:
        stocked(VariantFactory(sku=sku), berlin, 10)
    token = Token.objects.get(user=ops_client.user).key
    forward = [delta(sku, "BER", 2) for sku in skus]

    def client() -> APIClient:
        # One client per request: a test client is not meant to be shared between threads.
        fresh = APIClient()
        fresh.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        return fresh

    def bulk(rows, query=""):
        return post(client(), rows, query=query)

    def adjust(sku):
        payload = {"sku": sku, "warehouse": "BER", "delta": -1, "reason": "lost"}
        return client().post("/api/v1/stock/adjustments/", payload, format="json")

    jobs = [
        partial(bulk, forward),
        partial(bulk, forward[::-1]),
        partial(bulk, forward[::2] + forward[1::2]),
        partial(bulk, forward[::-1], "?dry_run=1"),
        *(partial(adjust, sku) for sku in skus[:10]),
    ]

    attempts = run_at_once(jobs, workers=6)

    assert [attempt.error for attempt in attempts] == [None] * len(jobs)
    assert [attempt.result.status_code for attempt in attempts] == [201, 201, 201, 200] + [201] * 10
    expected = {sku: 10 + 3 * 2 - (1 if number < 10 else 0) for number, sku in enumerate(skus)}
    assert dict(StockLevel.objects.values_list("variant__sku", "on_hand")) == expected
    assert StockMovement.objects.filter(source="api").count() == 3 * 20 + 10
    verify_ledger_clean()
    verify_ledger_chain()


# --- Any body: a 4xx naming the problem, or an answer; never a 500 ----------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
row_values = st.one_of(
    json_values,
    st.sampled_from(["SHEET", "TOWEL", "PILLOW", "BER", "BAL", "NOPE", "", " ", "\x00", "\ud800"]),
    st.integers(min_value=-(10**10), max_value=10**10),
)
rows = st.lists(
    st.one_of(
        json_values,
        st.dictionaries(st.sampled_from([*sorted(ROW_FIELDS), "extra"]), row_values),
    ),
    max_size=4,
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    body=st.one_of(
        json_values, st.fixed_dictionaries({"rows": rows}, optional={"reference": row_values})
    )
)
def test_any_body_is_answered_without_a_server_error(ops_client, shelf, body):
    before = state()

    response = ops_client.post(URL, json.dumps(body), content_type="application/json")

    assert response.status_code in {200, 201, 400, 409}, response.content[:500]
    assert set(response.json()) in ({"error"}, {"dry_run", "reference", "summary", "rows"})
    if response.status_code >= 400:
        assert state() == before


# --- The schema documents what the reader checks -----------------------------------------------


def test_the_documented_fields_are_the_fields_the_reader_accepts():
    assert set(BulkRowInput().fields) == ROW_FIELDS
    assert set(BulkStockInput().fields) == BODY_FIELDS
