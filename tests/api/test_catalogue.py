import json
from decimal import Decimal

import pytest

from stock.models import Product, StockLevel, Variant
from tests.stock.factories import ProductFactory, VariantFactory, ledger_ids, reserved, stocked
from tests.warehouses.factories import WarehouseFactory
from warehouses.access import Role

pytestmark = pytest.mark.django_db
PRODUCTS = "/api/v1/products/"
VARIANTS = "/api/v1/variants/"
ROLES_THAT_READ_ONLY = [Role.WAREHOUSE_MANAGER, Role.VIEWER, Role.INTEGRATION]


def _catalogue():
    return (
        list(Product.objects.order_by("pk").values()),
        list(Variant.objects.order_by("pk").values()),
    )


def _skus(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return [row["sku"] for row in response.json()["results"]]


# --- Products --------------------------------------------------------------------------------


def test_product_list_shows_each_product_with_its_variant_count(ops_client):
    sheets = ProductFactory(name="Percale sheet set", description="Crisp cotton.")
    VariantFactory(product=sheets)
    VariantFactory(product=sheets, is_active=False)
    ProductFactory(name="Duvet cover")

    response = ops_client.get(PRODUCTS)

    assert response.status_code == 200
    rows = response.json()["results"]
    for row in rows:
        row.pop("created_at")
    assert rows == [
        {
            "id": rows[0]["id"],
            "name": "Duvet cover",
            "description": "",
            "is_active": True,
            "variant_count": 0,
        },
        {
            "id": sheets.pk,
            "name": "Percale sheet set",
            "description": "Crisp cotton.",
            "is_active": True,
            "variant_count": 2,
        },
    ]


def test_product_list_filters_by_name_and_is_active(ops_client):
    ProductFactory(name="Percale sheet set")
    ProductFactory(name="Sateen sheet set", is_active=False)
    ProductFactory(name="Duvet cover")

    sheets = ops_client.get(PRODUCTS, {"name": "SHEET"})
    active_sheets = ops_client.get(PRODUCTS, {"name": "sheet", "is_active": "true"})

    assert [row["name"] for row in sheets.json()["results"]] == [
        "Percale sheet set",
        "Sateen sheet set",
    ]
    assert [row["name"] for row in active_sheets.json()["results"]] == ["Percale sheet set"]


@pytest.mark.parametrize("rows", [2, 20])
def test_product_list_takes_the_same_number_of_queries_for_2_or_20_products(
    ops_client, django_assert_num_queries, rows
):
    for _ in range(rows):
        VariantFactory.create_batch(2, product=ProductFactory())

    # Token and user, the user's groups, the count, the page with its variant counts.
    with django_assert_num_queries(4):
        response = ops_client.get(PRODUCTS, {"page_size": 50})

    assert [row["variant_count"] for row in response.json()["results"]] == [2] * rows


def test_product_retrieve_and_unknown_id_is_404_unknown_product(ops_client):
    product = ProductFactory(name="Duvet cover")

    found = ops_client.get(f"{PRODUCTS}{product.pk}/")
    missing = ops_client.get(f"{PRODUCTS}{product.pk + 1000}/")
    past_bigint = ops_client.get(f"{PRODUCTS}{10**30}/")

    assert found.status_code == 200
    assert found.json()["name"] == "Duvet cover"
    assert missing.status_code == past_bigint.status_code == 404
    assert (
        missing.json()["error"]["code"] == past_bigint.json()["error"]["code"] == "unknown_product"
    )


def test_ops_staff_create_a_product_and_a_replay_creates_nothing_more(ops_client):
    payload = {"name": "Linen sheet set", "description": "Stonewashed."}

    first = ops_client.post(PRODUCTS, payload, format="json", HTTP_IDEMPOTENCY_KEY="p-1")
    again = ops_client.post(PRODUCTS, payload, format="json", HTTP_IDEMPOTENCY_KEY="p-1")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert first.json()["variant_count"] == 0
    assert list(Product.objects.values_list("name", "description", "is_active")) == [
        ("Linen sheet set", "Stonewashed.", True)
    ]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "Sheets", "is_active": "yes"}, "is_active"),
        ({"name": "Sheets", "variants": []}, "variants"),
    ],
)
def test_product_create_refuses_bad_input_naming_the_field(ops_client, payload, field):
    response = ops_client.post(PRODUCTS, payload, format="json")

    assert response.status_code == 400
    assert list(response.json()["error"]["details"]) == [field]
    assert not Product.objects.exists()


def test_product_put_patch_and_deactivate(ops_client):
    product = ProductFactory(name="Sheets", description="Old")
    url = f"{PRODUCTS}{product.pk}/"

    put = ops_client.put(url, {"name": "Percale sheets"}, format="json")
    put_without_name = ops_client.put(url, {"description": "New"}, format="json")
    patch = ops_client.patch(url, {"description": "New"}, format="json")
    deactivated = ops_client.post(f"{url}deactivate/")

    assert put.status_code == patch.status_code == deactivated.status_code == 200
    assert put_without_name.status_code == 400
    assert deactivated.json()["is_active"] is False
    assert list(Product.objects.values_list("name", "description", "is_active")) == [
        ("Percale sheets", "New", False)
    ]


def test_product_delete_is_405_and_deletes_nothing(ops_client):
    product = ProductFactory()

    response = ops_client.delete(f"{PRODUCTS}{product.pk}/")

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert Product.objects.filter(pk=product.pk, is_active=True).exists()


@pytest.mark.parametrize("role", ROLES_THAT_READ_ONLY)
def test_product_writes_are_for_ops_staff_only(make_client, role):
    product = ProductFactory(name="Sheets")
    client = make_client(role)
    before = _catalogue()

    answers = [
        client.get(PRODUCTS),
        client.post(PRODUCTS, {"name": "New"}, format="json"),
        client.patch(f"{PRODUCTS}{product.pk}/", {"name": "Renamed"}, format="json"),
        client.post(f"{PRODUCTS}{product.pk}/deactivate/"),
    ]

    assert [answer.status_code for answer in answers] == [200, 403, 403, 403]
    assert _catalogue() == before


# --- Variants: reading -----------------------------------------------------------------------


def test_variant_list_shows_product_id_and_name_and_every_setting(ops_client):
    product = ProductFactory(name="Percale sheet set")
    VariantFactory(
        product=product,
        sku="SHEET-Q-WHT",
        attributes={"size": "queen", "colour": "white"},
        barcode="4006381333931",
        backorders="allow_notify",
        low_stock_threshold=8,
        unit_cost=Decimal("12.40"),
    )

    response = ops_client.get(VARIANTS)

    (row,) = response.json()["results"]
    row.pop("created_at")
    assert row == {
        "sku": "SHEET-Q-WHT",
        "product": product.pk,
        "product_name": "Percale sheet set",
        "attributes": {"size": "queen", "colour": "white"},
        "barcode": "4006381333931",
        "manage_stock": True,
        "backorders": "allow_notify",
        "low_stock_threshold": 8,
        "unit_cost": "12.40",
        "is_active": True,
    }


@pytest.mark.parametrize("bad", ["-1", "abc", "1.234", True])
def test_a_variants_unit_cost_is_set_and_a_bad_one_refused(ops_client, bad):
    variant = VariantFactory(sku="COST-1")
    url = f"{VARIANTS}{variant.sku}/"
    refused = ops_client.patch(url, {"unit_cost": bad}, format="json")
    assert refused.status_code == 400, refused.content
    assert "unit_cost" in str(refused.json())
    variant.refresh_from_db()
    assert variant.unit_cost is None
    answer = ops_client.patch(url, {"unit_cost": "7.25"}, format="json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["unit_cost"] == "7.25"
    variant.refresh_from_db()
    assert variant.unit_cost == Decimal("7.25")


@pytest.fixture
def bedding():
    sheets, duvets = ProductFactory(name="Sheets"), ProductFactory(name="Duvets")
    VariantFactory(product=sheets, sku="SH-Q-W", attributes={"size": "queen", "colour": "white"})
    VariantFactory(product=sheets, sku="SH-K-W", attributes={"size": "king", "colour": "white"})
    VariantFactory(product=sheets, sku="SH-Q-G", attributes={"size": "queen", "colour": "grey"})
    VariantFactory(
        product=duvets,
        sku="DU-Q-W",
        attributes={"size": "queen", "colour": "white"},
        is_active=False,
        backorders="allow",
    )
    VariantFactory(product=duvets, sku="DU-T-W", attributes={"size": "twin"}, manage_stock=False)
    return sheets, duvets


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"sku": "SH-K-W"}, ["SH-K-W"]),
        ({"sku": "SH"}, []),
        ({"attribute": "size:queen"}, ["DU-Q-W", "SH-Q-G", "SH-Q-W"]),
        ({"attribute": ["size:queen", "colour:white"]}, ["DU-Q-W", "SH-Q-W"]),
        ({"attribute": ["size:king", "size:twin"]}, ["DU-T-W", "SH-K-W"]),
        ({"attribute": ["size:queen", "size:king", "colour:grey"]}, ["SH-Q-G"]),
        ({"attribute": "size:"}, []),
        ({"attribute": "size:queen:deluxe"}, []),
        ({"is_active": "false"}, ["DU-Q-W"]),
        ({"backorders": "allow"}, ["DU-Q-W"]),
        ({"manage_stock": "false"}, ["DU-T-W"]),
        ({"ordering": "-sku", "attribute": "colour:white"}, ["SH-Q-W", "SH-K-W", "DU-Q-W"]),
    ],
)
def test_variant_list_filters(ops_client, bedding, query, expected):
    response = ops_client.get(VARIANTS, query)

    assert _skus(response) == expected


def test_variant_list_filters_by_product_id(ops_client, bedding):
    sheets, _ = bedding

    response = ops_client.get(VARIANTS, {"product": sheets.pk, "attribute": "colour:white"})

    assert _skus(response) == ["SH-K-W", "SH-Q-W"]


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ({"attribute": "queen"}, "attribute"),
        ({"attribute": ":queen"}, "attribute"),
        ({"product": "999999"}, "product"),
        ({"product": "sheets"}, "product"),
        ({"product": str(10**30)}, "product"),
        ({"attribute": "size:que\x00en"}, "attribute"),
        ({"backorders": "sometimes"}, "backorders"),
        ({"is_active": "yes"}, "is_active"),
    ],
)
def test_variant_list_refuses_an_unreadable_filter_naming_it(ops_client, bedding, query, parameter):
    response = ops_client.get(VARIANTS, query)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert list(error["details"]) == [parameter]


@pytest.mark.parametrize("rows", [2, 20])
def test_variant_list_takes_the_same_number_of_queries_for_2_or_20_variants(
    ops_client, django_assert_num_queries, rows
):
    for _ in range(rows):
        VariantFactory(product=ProductFactory())

    # Token and user, the user's groups, the count, the page with its products.
    with django_assert_num_queries(4):
        response = ops_client.get(VARIANTS, {"page_size": 50})

    assert len({row["product_name"] for row in response.json()["results"]}) == rows


def test_variant_retrieve_by_sku_and_unknown_sku_is_404_unknown_sku(ops_client):
    VariantFactory(sku="SHEET.Q-WHT_2", attributes={"size": "queen"})

    found = ops_client.get(f"{VARIANTS}SHEET.Q-WHT_2/")
    missing = ops_client.get(f"{VARIANTS}NOPE/")
    unstorable = ops_client.get(f"{VARIANTS}NO%00PE/")

    assert found.status_code == 200
    assert found.json()["attributes"] == {"size": "queen"}
    assert missing.status_code == 404
    assert missing.json()["error"] == {
        "code": "unknown_sku",
        "message": "No variant has SKU 'NOPE'.",
        "details": {"sku": "NOPE"},
    }
    assert unstorable.status_code == 404
    assert unstorable.json()["error"]["code"] == "unknown_sku"


# --- Variants: writing -----------------------------------------------------------------------


def test_ops_staff_create_a_variant(ops_client):
    product = ProductFactory(name="Sheets")
    payload = {
        "sku": "SHEET-Q-WHT",
        "product": product.pk,
        "attributes": {"size": "queen", "colour": "white"},
        "barcode": "4006381333931",
        "backorders": "allow",
        "low_stock_threshold": 3,
    }

    response = ops_client.post(VARIANTS, payload, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["product_name"] == "Sheets"
    variant = Variant.objects.get(sku="SHEET-Q-WHT")
    assert variant.product == product
    assert variant.attributes == {"size": "queen", "colour": "white"}
    assert (variant.barcode, variant.backorders, variant.low_stock_threshold) == (
        "4006381333931",
        "allow",
        3,
    )
    assert (variant.manage_stock, variant.is_active) == (True, True)


def test_variant_create_with_the_same_idempotency_key_replays(ops_client):
    payload = {"sku": "SHEET-Q-WHT", "product": ProductFactory().pk}

    first = ops_client.post(VARIANTS, payload, format="json", HTTP_IDEMPOTENCY_KEY="v-1")
    again = ops_client.post(VARIANTS, payload, format="json", HTTP_IDEMPOTENCY_KEY="v-1")

    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert Variant.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"sku": "has space"}, "sku"),
        ({"sku": "TAKEN"}, "sku"),
        ({"product": 999_999}, "product"),
        ({"product": "1"}, "product"),
        ({"product": True}, "product"),
        ({"attributes": ["size", "queen"]}, "attributes"),
        ({"attributes": {"size": 5}}, "attributes"),
        ({"attributes": {"size": {"eu": "160"}}}, "attributes"),
        ({"attributes": {"size:eu": "160"}}, "attributes"),
        ({"attributes": {" ": "x"}}, "attributes"),
        ({"attributes": {f"a{n}": "x" for n in range(51)}}, "attributes"),
        ({"attributes": {"size": "x" * 201}}, "attributes"),
        ({"attributes": {"size": "que\x00en"}}, "attributes"),
        ({"attributes": {"si\x00ze": "queen"}}, "attributes"),
        ({"attributes": {"size": "que\ud800en"}}, "attributes"),
        ({"barcode": "4006381333931"}, "barcode"),
        ({"backorders": "sometimes"}, "backorders"),
        ({"low_stock_threshold": -1}, "low_stock_threshold"),
        ({"low_stock_threshold": 2.0}, "low_stock_threshold"),
        ({"manage_stock": "false"}, "manage_stock"),
        ({"colour": "white"}, "colour"),
    ],
)
def test_variant_create_refuses_bad_input_naming_the_field_and_writes_nothing(
    ops_client, change, field
):
    product = ProductFactory()
    VariantFactory(product=product, sku="TAKEN", barcode="4006381333931")
    before = _catalogue()
    payload = {"sku": "NEW-SKU", "product": product.pk, **change}

    # Sent as ASCII JSON, so that a lone surrogate travels as the escape \\ud800.
    response = ops_client.post(VARIANTS, json.dumps(payload), content_type="application/json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert list(error["details"]) == [field]
    assert error["message"].startswith(f"{field}:")
    assert _catalogue() == before


def test_variant_patch_replaces_the_attributes_and_keeps_the_rest(ops_client):
    VariantFactory(sku="SH-Q", attributes={"size": "queen", "colour": "white"}, barcode="111")

    response = ops_client.patch(f"{VARIANTS}SH-Q/", {"attributes": {"size": "king"}}, format="json")

    assert response.status_code == 200
    variant = Variant.objects.get(sku="SH-Q")
    assert (variant.attributes, variant.barcode) == ({"size": "king"}, "111")


def test_variant_put_is_the_whole_record_so_it_requires_the_sku(ops_client):
    variant = VariantFactory(sku="SH-Q", barcode="111")

    response = ops_client.put(
        f"{VARIANTS}SH-Q/", {"product": variant.product_id, "barcode": "222"}, format="json"
    )

    assert response.status_code == 400
    assert list(response.json()["error"]["details"]) == ["sku"]
    assert Variant.objects.get(sku="SH-Q").barcode == "111"


def test_variant_put_requires_the_product_and_may_move_the_variant_to_another(ops_client):
    VariantFactory(sku="SH-Q")
    other = ProductFactory(name="Other")

    without_product = ops_client.put(
        f"{VARIANTS}SH-Q/", {"sku": "SH-Q", "barcode": "1"}, format="json"
    )
    moved = ops_client.put(f"{VARIANTS}SH-Q/", {"sku": "SH-Q", "product": other.pk}, format="json")

    assert without_product.status_code == 400
    assert list(without_product.json()["error"]["details"]) == ["product"]
    assert moved.status_code == 200
    assert moved.json()["product_name"] == "Other"
    assert Variant.objects.get(sku="SH-Q").product == other


def test_variant_update_may_repeat_its_own_sku_and_barcode_but_not_change_the_sku(ops_client):
    VariantFactory(sku="SH-Q", barcode="111")

    same = ops_client.patch(f"{VARIANTS}SH-Q/", {"sku": "SH-Q", "barcode": "111"}, format="json")
    renamed = ops_client.patch(f"{VARIANTS}SH-Q/", {"sku": "SH-K"}, format="json")

    assert same.status_code == 200
    assert renamed.status_code == 400
    assert list(renamed.json()["error"]["details"]) == ["sku"]
    assert list(Variant.objects.values_list("sku", flat=True)) == ["SH-Q"]


def test_allowing_backorders_updates_every_level_of_the_variant(ops_client):
    variant = VariantFactory(sku="SH-Q")
    stocked(variant, WarehouseFactory(code="BAL"), 2)
    stocked(variant, WarehouseFactory(code="AUS"), 2)

    response = ops_client.patch(f"{VARIANTS}SH-Q/", {"backorders": "allow"}, format="json")

    assert response.status_code == 200
    assert response.json()["backorders"] == "allow"
    assert list(StockLevel.objects.values_list("is_backorder_allowed", flat=True)) == [True, True]


def test_denying_backorders_while_a_warehouse_is_backordered_is_409_and_changes_nothing(
    ops_client,
):
    variant = VariantFactory(sku="SH-Q", backorders="allow", barcode="111")
    baltimore, austin = WarehouseFactory(code="BAL"), WarehouseFactory(code="AUS")
    stocked(variant, baltimore, 5)
    reserved(variant, austin, 2)
    before, ledger_before = _catalogue(), ledger_ids()
    levels_before = list(StockLevel.objects.order_by("pk").values())

    response = ops_client.patch(
        f"{VARIANTS}SH-Q/", {"backorders": "deny", "barcode": "222"}, format="json"
    )

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "insufficient_stock"
    assert error["details"] == {"available_by_warehouse": {"AUS": -2}}
    assert _catalogue() == before
    assert list(StockLevel.objects.order_by("pk").values()) == levels_before
    assert ledger_ids() == ledger_before


def test_variant_deactivate_by_action_and_by_patch(ops_client):
    VariantFactory(sku="A")
    VariantFactory(sku="B")

    by_action = ops_client.post(f"{VARIANTS}A/deactivate/")
    by_patch = ops_client.patch(f"{VARIANTS}B/", {"is_active": False}, format="json")

    assert by_action.status_code == by_patch.status_code == 200
    assert list(Variant.objects.values_list("sku", "is_active")) == [("A", False), ("B", False)]


def test_variant_delete_is_405_and_deletes_nothing(ops_client):
    VariantFactory(sku="A")

    response = ops_client.delete(f"{VARIANTS}A/")

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert Variant.objects.filter(sku="A", is_active=True).exists()


@pytest.mark.parametrize("role", ROLES_THAT_READ_ONLY)
def test_variant_writes_are_for_ops_staff_only_even_at_their_warehouse(make_client, role):
    variant = VariantFactory(sku="SH-Q")
    baltimore = WarehouseFactory(code="BAL")
    stocked(variant, baltimore, 1)
    client = make_client(role, warehouses=[baltimore])
    before = _catalogue()

    answers = [
        client.get(f"{VARIANTS}SH-Q/"),
        client.post(VARIANTS, {"sku": "NEW", "product": variant.product_id}, format="json"),
        client.patch(f"{VARIANTS}SH-Q/", {"backorders": "allow"}, format="json"),
        client.put(f"{VARIANTS}SH-Q/", {"product": variant.product_id}, format="json"),
        client.post(f"{VARIANTS}SH-Q/deactivate/"),
    ]

    assert [answer.status_code for answer in answers] == [200, 403, 403, 403, 403]
    assert {answer.json()["error"]["code"] for answer in answers[1:]} == {"permission_denied"}
    assert _catalogue() == before
