"""The OpenAPI schema says what the API does: each class of disagreement the fuzzer found
(`make fuzz`, every schemathesis check), pinned on the schema and on the behaviour."""

import pytest
import yaml
from django.test import Client

from connectors.models import Connector
from tests.stock.factories import VariantFactory
from tests.warehouses.factories import WarehouseFactory

SCHEMA_URL = "/api/schema/"


@pytest.fixture(scope="module")
def schema() -> dict:
    response = Client().get(SCHEMA_URL)
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def components(schema: dict) -> dict:
    return schema["components"]["schemas"]


def query_parameter(schema: dict, path: str, name: str) -> dict:
    parameters = schema["paths"][path]["get"]["parameters"]
    return next(parameter for parameter in parameters if parameter["name"] == name)


def test_every_request_body_documents_that_unknown_fields_are_refused(schema):
    bodies = {name: body for name, body in components(schema).items() if name.endswith("Request")}

    assert bodies
    assert {
        name: body.get("additionalProperties") for name, body in bodies.items()
    } == dict.fromkeys(bodies, False)


@pytest.mark.django_db
def test_an_unknown_body_field_is_refused_as_documented(ops_client):
    response = ops_client.post(
        "/api/v1/warehouses/", {"code": "NEW", "name": "New", "colour": "red"}, format="json"
    )

    assert response.status_code == 400
    assert list(response.json()["error"]["details"]) == ["colour"]


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/api/v1/warehouses/", "is_active"),
        ("/api/v1/channels/", "is_active"),
        ("/api/v1/products/", "is_active"),
        ("/api/v1/variants/", "manage_stock"),
        ("/api/v1/connectors/", "archived"),
        ("/api/v1/stock/", "below_threshold"),
    ],
)
def test_boolean_filters_are_documented_as_the_booleans_they_accept(schema, path, name):
    assert query_parameter(schema, path, name)["schema"] == {"type": "boolean"}


@pytest.mark.django_db
def test_a_boolean_filter_takes_true_and_false_and_refuses_anything_else(ops_client):
    WarehouseFactory(code="BER")

    answers = [
        ops_client.get("/api/v1/warehouses/", {"is_active": value}).status_code
        for value in ("true", "false", "2", "yes")
    ]

    assert answers == [200, 200, 400, 400]


@pytest.mark.parametrize(
    ("component", "field"),
    [
        ("BulkStockInputRequest", "rows"),
        ("ShipInputRequest", "lines"),
        ("OrderInputRequest", "lines"),
    ],
)
def test_lists_the_api_refuses_empty_are_documented_non_empty(schema, component, field):
    assert components(schema)[component]["properties"][field]["minItems"] == 1


@pytest.mark.parametrize("component", ["AdjustmentInputRequest", "BulkRowInputRequest"])
def test_delta_or_counted_is_documented_as_exactly_one_of_them_and_delta_never_0(schema, component):
    body = components(schema)[component]

    assert sorted(map(str, body["oneOf"])) == [
        "{'required': ['counted']}",
        "{'required': ['delta']}",
    ]
    assert body["properties"]["delta"]["not"] == {"enum": [0]}


def test_an_uploaded_feed_is_documented_as_not_empty(schema):
    content = schema["paths"]["/api/v1/connectors/{id}/feed/"]["post"]["requestBody"]["content"]

    assert content["text/csv"]["schema"]["minLength"] == 1


def test_the_connector_list_documents_the_orderings_it_accepts(schema):
    ordering = query_parameter(schema, "/api/v1/connectors/", "ordering")["schema"]

    assert ordering["items"]["enum"] == ["-created_at", "-name", "created_at", "name"]


def test_a_warehouse_time_zone_is_documented_as_one_of_the_names_accepted(schema):
    timezone = components(schema)["WarehouseInputRequest"]["properties"]["timezone"]
    names = components(schema)[timezone["allOf"][0]["$ref"].rsplit("/", 1)[1]]["enum"]

    assert {"UTC", "Europe/Berlin", "America/New_York"} <= set(names)
    assert "0" not in names


def test_attribute_names_and_the_attribute_filter_are_documented_as_checked(schema):
    names = components(schema)["VariantInputRequest"]["properties"]["attributes"]["propertyNames"]
    attribute = query_parameter(schema, "/api/v1/variants/", "attribute")["schema"]

    assert names["maxLength"] == 64
    assert attribute["items"]["pattern"]


@pytest.mark.django_db
def test_attribute_names_the_schema_refuses_the_api_refuses(ops_client):
    variant = VariantFactory(sku="SH-Q")

    answers = [
        ops_client.patch(
            f"/api/v1/variants/{variant.sku}/", {"attributes": {name: "x"}}, format="json"
        ).status_code
        for name in ("", " ", "a:b", "size")
    ]
    filters = [
        ops_client.get("/api/v1/variants/", {"attribute": value}).status_code
        for value in ("", ":queen", "size", "size:queen")
    ]

    assert answers == [400, 400, 400, 200]
    assert filters == [400, 400, 400, 200]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/api/v1/orders/", "placed_after"),
        ("/api/v1/movements/", "recorded_before"),
        ("/api/v1/movements/", "occurred_after"),
        ("/api/v1/warehouses/", "is_active"),
        ("/api/v1/products/", "ordering"),
        ("/api/v1/connectors/", "kind"),
        ("/api/v1/channels/", "kind"),
        ("/api/v1/orders/", "status"),
        ("/api/v1/movements/", "kind"),
        ("/api/v1/orders/", "page"),
    ],
)
def test_an_empty_filter_or_page_is_refused_naming_it(ops_client, path, name):
    response = ops_client.get(f"{path}?{name}=")

    assert response.status_code == 400
    assert list(response.json()["error"]["details"]) == [name]


@pytest.mark.django_db
def test_an_empty_free_text_filter_is_still_no_filter(ops_client):
    assert ops_client.get("/api/v1/orders/?reference=").status_code == 200


def test_an_ordering_is_documented_as_at_least_one_field(schema):
    ordering = query_parameter(schema, "/api/v1/products/", "ordering")["schema"]

    assert ordering["minItems"] == 1


def test_free_text_body_fields_are_documented_without_nul(schema):
    name = components(schema)["ProductInputRequest"]["properties"]["name"]

    assert name["pattern"] == "^[^\\x00]*$"


@pytest.mark.django_db
def test_is_short_takes_true_or_false_only_as_documented(ops_client):
    answers = [
        ops_client.get("/api/v1/orders/", {"is_short": value}).status_code
        for value in ("true", "false", "null")
    ]

    assert answers == [200, 200, 400]


@pytest.mark.django_db
def test_a_connector_put_is_the_whole_record_so_an_empty_body_is_refused(ops_client):
    connector = Connector.objects.create(name="shop", kind="woocommerce", base_url="http://x")

    response = ops_client.put(f"/api/v1/connectors/{connector.pk}/", {}, format="json")

    assert response.status_code == 400
    assert sorted(response.json()["error"]["details"]) == ["kind", "name"]
