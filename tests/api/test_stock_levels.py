import pytest

from stock.models import StockLevel, StockStatus
from stock.services import force_status, mark_unsellable, set_safety_stock
from tests.stock.factories import (
    SYSTEM,
    VariantFactory,
    channel_selling_from,
    ledger_ids,
    reserved,
    stocked,
)
from tests.warehouses.factories import SalesChannelFactory, WarehouseFactory
from warehouses.access import Role

pytestmark = pytest.mark.django_db
URL = "/api/v1/stock/"


@pytest.fixture
def warehouses():
    return {code: WarehouseFactory(code=code, name=code.title()) for code in ("AUS", "BAL", "BER")}


@pytest.fixture
def levels(warehouses):
    """One level of each status, and one made low only by its own threshold.

    SHEET  at BAL: 20 available, threshold 5 → in stock;  at AUS: 3 → low stock
    PILLOW at BER: 2 on hand, 2 reserved → out of stock (backorders denied)
    DUVET  at BAL: 0 on hand, 2 reserved → backorder (allowed)
    THROW  at AUS: 8 available, its own threshold 10 (the variant's 5) → low stock
    """
    bal, aus, ber = warehouses["BAL"], warehouses["AUS"], warehouses["BER"]
    sheet = VariantFactory(sku="SHEET", low_stock_threshold=5)
    stocked(sheet, bal, 20)
    stocked(sheet, aus, 3)
    pillow = VariantFactory(sku="PILLOW")
    stocked(pillow, ber, 2)
    reserved(pillow, ber, 2)
    duvet = VariantFactory(sku="DUVET", backorders="allow")
    reserved(duvet, bal, 2)
    throw = VariantFactory(sku="THROW", low_stock_threshold=5)
    stocked(throw, aus, 8)
    StockLevel.objects.filter(variant=throw).update(low_stock_threshold=10)
    return {"SHEET": sheet, "PILLOW": pillow, "DUVET": duvet, "THROW": throw}


def _pairs(response) -> list[tuple[str, str]]:
    assert response.status_code == 200, response.json()
    return [(row["sku"], row["warehouse"]) for row in response.json()["results"]]


def test_list_shows_every_named_quantity_status_and_threshold(ops_client, warehouses):
    variant = VariantFactory(sku="SHEET", low_stock_threshold=4)
    bal = warehouses["BAL"]
    stocked(variant, bal, 12)
    reserved(variant, bal, 2)
    mark_unsellable(variant=variant, warehouse=bal, quantity=1, actor=SYSTEM)
    set_safety_stock(variant=variant, warehouse=bal, quantity=3, actor=SYSTEM)
    level = StockLevel.objects.get()

    response = ops_client.get(URL)

    (row,) = response.json()["results"]
    assert row == {
        "sku": "SHEET",
        "warehouse": "BAL",
        "on_hand": 12,
        "reserved": 2,
        "unsellable": 1,
        "safety_stock": 3,
        "inbound": 0,
        "available": 6,
        "status": "in_stock",
        "threshold": 4,
        "version": 4,
        "updated_at": row["updated_at"],
    }
    assert row["updated_at"].startswith(level.updated_at.date().isoformat())


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("in_stock", [("SHEET", "BAL")]),
        ("low_stock", [("SHEET", "AUS"), ("THROW", "AUS")]),
        ("out_of_stock", [("PILLOW", "BER")]),
        ("backorder", [("DUVET", "BAL")]),
    ],
)
def test_status_filter_is_decided_by_the_database(ops_client, levels, status, expected):
    response = ops_client.get(URL, {"status": status})

    assert _pairs(response) == expected
    assert {row["status"] for row in response.json()["results"]} == {status}


def test_status_filters_partition_the_levels_exactly_as_the_status_property_does(
    ops_client, levels
):
    by_property = {
        status: sorted(
            (level.variant.sku, level.warehouse.code)
            for level in StockLevel.objects.select_related("variant", "warehouse")
            if level.status == status
        )
        for status in StockStatus.values
    }

    by_filter = {
        status: sorted(_pairs(ops_client.get(URL, {"status": status})))
        for status in StockStatus.values
    }

    assert by_filter == by_property
    assert sum(len(pairs) for pairs in by_filter.values()) == StockLevel.objects.count()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("true", [("DUVET", "BAL"), ("PILLOW", "BER"), ("SHEET", "AUS"), ("THROW", "AUS")]),
        ("false", [("SHEET", "BAL")]),
    ],
)
def test_below_threshold_filter_uses_the_levels_own_threshold_first(
    ops_client, levels, value, expected
):
    response = ops_client.get(URL, {"below_threshold": value})

    assert _pairs(response) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"sku": "SHEET"}, [("SHEET", "AUS"), ("SHEET", "BAL")]),
        ({"sku": "SHEE"}, []),
        ({"warehouse": "AUS"}, [("SHEET", "AUS"), ("THROW", "AUS")]),
        (
            {"channel": "na"},
            [("DUVET", "BAL"), ("SHEET", "AUS"), ("SHEET", "BAL"), ("THROW", "AUS")],
        ),
        ({"channel": "eu"}, [("PILLOW", "BER")]),
        ({"channel": "na", "status": "low_stock", "sku": "THROW"}, [("THROW", "AUS")]),
    ],
)
def test_filters_by_sku_warehouse_and_channel(ops_client, warehouses, levels, query, expected):
    channel_selling_from(warehouses["BAL"], warehouses["AUS"], code="na")
    channel_selling_from(warehouses["BER"], code="eu")

    response = ops_client.get(URL, query)

    assert _pairs(response) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            {"ordering": "-available"},
            [
                ("SHEET", "BAL"),
                ("THROW", "AUS"),
                ("SHEET", "AUS"),
                ("PILLOW", "BER"),
                ("DUVET", "BAL"),
            ],
        ),
        (
            {"ordering": "warehouse,-sku"},
            [
                ("THROW", "AUS"),
                ("SHEET", "AUS"),
                ("SHEET", "BAL"),
                ("DUVET", "BAL"),
                ("PILLOW", "BER"),
            ],
        ),
        (
            {"ordering": "on_hand,sku"},
            [
                ("DUVET", "BAL"),
                ("PILLOW", "BER"),
                ("SHEET", "AUS"),
                ("THROW", "AUS"),
                ("SHEET", "BAL"),
            ],
        ),
    ],
)
def test_ordering(ops_client, levels, query, expected):
    response = ops_client.get(URL, query)

    assert _pairs(response) == expected


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ({"status": "plenty"}, "status"),
        ({"below_threshold": "yes"}, "below_threshold"),
        ({"warehouse": "NOPE"}, "warehouse"),
        ({"channel": "nope"}, "channel"),
        ({"ordering": "reserved"}, "ordering"),
    ],
)
def test_an_unreadable_filter_is_400_naming_it(ops_client, levels, query, parameter):
    response = ops_client.get(URL, query)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert list(error["details"]) == [parameter]


@pytest.mark.parametrize("rows", [2, 20])
def test_list_takes_the_same_number_of_queries_for_2_or_20_levels(
    ops_client, django_assert_num_queries, warehouses, rows
):
    channel_selling_from(warehouses["BAL"], warehouses["AUS"], code="na")
    for index in range(rows // 2):
        variant = VariantFactory(sku=f"SKU-{index:02d}")
        stocked(variant, warehouses["BAL"], 3)
        stocked(variant, warehouses["AUS"], 9)

    # Token and user, the user's groups, the channel named, the count, the page.
    with django_assert_num_queries(5):
        response = ops_client.get(URL, {"page_size": 50, "channel": "na", "status": "low_stock"})

    assert len(response.json()["results"]) == rows // 2


@pytest.mark.parametrize("role", [Role.WAREHOUSE_MANAGER, Role.VIEWER, Role.INTEGRATION])
def test_every_role_reads_and_nobody_writes_here(make_client, levels, role):
    client = make_client(role)
    before = ledger_ids()

    listed = client.get(URL)
    one = client.get(f"{URL}SHEET/")
    posted = make_client(Role.OPS_STAFF, username="ops").post(URL, {}, format="json")

    assert listed.status_code == one.status_code == 200
    assert posted.status_code == 405
    assert posted.json()["error"]["code"] == "method_not_allowed"
    assert ledger_ids() == before


# --- One SKU ---------------------------------------------------------------------------------


def test_one_sku_shows_every_level_totals_and_each_active_channels_salable_quantity(
    ops_client, warehouses
):
    bal, aus, ber = warehouses["BAL"], warehouses["AUS"], warehouses["BER"]
    variant = VariantFactory(sku="SHEET", low_stock_threshold=5, product__name="Sheets")
    stocked(variant, bal, 10)
    reserved(variant, bal, 3)
    stocked(variant, aus, 4)
    stocked(variant, ber, 6)
    aus.is_active = False
    aus.save(update_fields=["is_active"])
    channel_selling_from(bal, aus, code="na", safety_buffer=1)
    channel_selling_from(ber, code="eu", max_salable_quantity=5)
    channel_selling_from(bal, code="old", is_active=False)
    force_status(variant=variant, status="in_stock", reason="promo", actor=SYSTEM)

    response = ops_client.get(f"{URL}SHEET/")

    assert response.status_code == 200
    body = response.json()
    assert {key: body[key] for key in body if key not in ("levels", "channels")} == {
        "sku": "SHEET",
        "product": variant.product_id,
        "product_name": "Sheets",
        "manage_stock": True,
        "backorders": "deny",
        "is_active": True,
        "totals": {
            "on_hand": 20,
            "reserved": 3,
            "unsellable": 0,
            "safety_stock": 0,
            "inbound": 0,
            "available": 17,
        },
    }
    assert [(row["warehouse"], row["available"], row["status"]) for row in body["levels"]] == [
        ("AUS", 4, "low_stock"),
        ("BAL", 7, "in_stock"),
        ("BER", 6, "in_stock"),
    ]
    assert [channel["channel"] for channel in body["channels"]] == ["eu", "na"]
    europe, north_america = body["channels"]
    assert north_america == {
        "channel": "na",
        "salable": 6,
        "total_available": 7,
        "buffer": 1,
        "shortfall": 0,
        "cap": None,
        "status": "in_stock",
        "forced_status": "in_stock",
        "forced_reason": "promo",
        "shown_status": "in_stock",
        "breakdown": [
            {
                "warehouse": "BAL",
                "warehouse_name": "Bal",
                "priority": 1,
                "is_active": True,
                "on_hand": 10,
                "reserved": 3,
                "unsellable": 0,
                "safety_stock": 0,
                "available": 7,
                "counted": 7,
                "share": None,
                "held_for_transfers": 0,
            },
            {
                "warehouse": "AUS",
                "warehouse_name": "Aus",
                "priority": 2,
                "is_active": False,
                "on_hand": 4,
                "reserved": 0,
                "unsellable": 0,
                "safety_stock": 0,
                "available": 4,
                "counted": 0,
                "share": None,
                "held_for_transfers": 0,
            },
        ],
    }
    assert (europe["salable"], europe["total_available"], europe["cap"], europe["status"]) == (
        5,
        6,
        5,
        "low_stock",
    )


def test_one_sku_shows_a_channels_own_forced_status_beside_the_real_one(ops_client, warehouses):
    variant = VariantFactory(sku="SHEET")
    stocked(variant, warehouses["BAL"], 50)
    channel = channel_selling_from(warehouses["BAL"], code="na")
    channel_selling_from(warehouses["BAL"], code="eu")
    force_status(
        variant=variant,
        status="out_of_stock",
        reason="listing paused",
        actor=SYSTEM,
        channel=channel,
    )

    response = ops_client.get(f"{URL}SHEET/")

    statuses = {
        row["channel"]: (
            row["status"],
            row["forced_status"],
            row["forced_reason"],
            row["shown_status"],
        )
        for row in response.json()["channels"]
    }
    assert statuses == {
        "eu": ("in_stock", None, "", "in_stock"),
        "na": ("in_stock", "out_of_stock", "listing paused", "out_of_stock"),
    }


def test_one_sku_never_stocked_has_no_levels_and_sells_nothing(ops_client, warehouses):
    VariantFactory(sku="NEW")
    SalesChannelFactory(code="na")

    response = ops_client.get(f"{URL}NEW/")

    assert response.status_code == 200
    body = response.json()
    assert body["levels"] == []
    assert set(body["totals"].values()) == {0}
    assert [(row["channel"], row["salable"], row["status"]) for row in body["channels"]] == [
        ("na", 0, "out_of_stock")
    ]


def test_unknown_sku_is_404_unknown_sku(ops_client):
    response = ops_client.get(f"{URL}NOPE/")

    assert response.status_code == 404
    assert response.json()["error"] == {
        "code": "unknown_sku",
        "message": "No variant has SKU 'NOPE'.",
        "details": {"sku": "NOPE"},
    }


def test_a_sku_the_database_cannot_hold_is_404_unknown_sku(ops_client):
    response = ops_client.get(f"{URL}NO%00PE/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_sku"
