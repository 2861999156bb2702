"""Every role against representative endpoints: the expected status, nothing written on a refusal.

Berlin (BER) sells on channel EU, Baltimore (BAL) on channel NA. The warehouse manager is
assigned Berlin; the integration is assigned channel EU (and so may adjust Berlin's stock).
"""

import io
from collections.abc import Callable

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from inventory_hub.models import IdempotencyKey
from stock.models import Order, StockLevel, StockMovement
from tests.stock.factories import VariantFactory, channel_selling_from, stocked
from tests.warehouses.factories import WarehouseFactory
from warehouses.access import Role
from warehouses.models import Warehouse

pytestmark = pytest.mark.django_db

ROLES = ["ops", "manager", "integration", "viewer", "nobody", "anonymous"]


@pytest.fixture
def world():
    berlin, baltimore = WarehouseFactory(code="BER"), WarehouseFactory(code="BAL")
    europe = channel_selling_from(berlin, code="EU")
    channel_selling_from(baltimore, code="NA")
    sheet = VariantFactory(sku="SHEET")
    stocked(sheet, berlin, 10)
    stocked(sheet, baltimore, 10)
    return {"berlin": berlin, "europe": europe}


@pytest.fixture
def clients(make_client, world) -> dict[str, APIClient]:
    return {
        "ops": make_client(Role.OPS_STAFF),
        "manager": make_client(Role.WAREHOUSE_MANAGER, warehouses=[world["berlin"]]),
        "integration": make_client(Role.INTEGRATION, channels=[world["europe"]]),
        "viewer": make_client(Role.VIEWER),
        "nobody": make_client(None),
        "anonymous": APIClient(),
    }


def adjust(warehouse: str) -> Callable:
    def call(client: APIClient):
        payload = {"sku": "SHEET", "warehouse": warehouse, "delta": 1, "reason": "found"}
        return client.post("/api/v1/stock/adjustments/", payload, format="json")

    return call


def order(channel: str) -> Callable:
    def call(client: APIClient):
        payload = {
            "channel": channel,
            "reference": f"{channel}-1",
            "lines": [{"sku": "SHEET", "quantity": 1}],
        }
        return client.post("/api/v1/orders/", payload, format="json")

    return call


def rename_berlin(client: APIClient):
    return client.patch("/api/v1/warehouses/BER/", {"name": "Berlin Nord"}, format="json")


def _written() -> tuple:
    """Everything a refused request must leave as it was."""
    return (
        list(StockLevel.objects.order_by("pk").values_list("on_hand", "reserved", "version")),
        list(StockMovement.objects.values_list("pk", flat=True)),
        list(Order.objects.values_list("pk", flat=True)),
        list(Warehouse.objects.order_by("pk").values_list("code", "name", "is_active")),
        IdempotencyKey.objects.count(),
    )


def _expected(*statuses: int) -> dict[str, int]:
    return dict(zip(ROLES, statuses, strict=True))


#                                     ops  manager integr. viewer nobody anonymous
WRITES = {
    "adjust stock in Berlin": (adjust("BER"), _expected(201, 201, 201, 403, 403, 401)),
    "adjust stock in Baltimore": (adjust("BAL"), _expected(201, 403, 403, 403, 403, 401)),
    "order on EU": (order("EU"), _expected(201, 403, 201, 403, 403, 401)),
    "order on NA": (order("NA"), _expected(201, 403, 403, 403, 403, 401)),
    "rename Berlin": (rename_berlin, _expected(200, 403, 403, 403, 403, 401)),
}
LISTS = ["warehouses", "channels", "products", "variants", "stock", "movements", "orders"]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", LISTS)
def test_every_role_reads_lists_the_roleless_are_403_the_anonymous_401(clients, role, name):
    response = clients[role].get(f"/api/v1/{name}/")

    expected = _expected(200, 200, 200, 200, 403, 401)[role]
    assert response.status_code == expected, response.json()
    if expected == 403:
        assert response.json()["error"]["code"] == "permission_denied"
    if expected == 401:
        assert response.json()["error"]["code"] == "not_authenticated"
        assert response.headers["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize("role", ROLES)
def test_storefront_availability_answers_everyone(clients, role):
    response = clients[role].get("/api/v1/availability/", {"channel": "EU", "sku": "SHEET"})

    assert response.status_code == 200
    assert response.json()["items"][0]["salable_quantity"] == 10


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("write", list(WRITES))
def test_write_answers_by_role_and_a_refusal_writes_nothing(clients, write, role):
    call, expected = WRITES[write]
    before = _written()

    response = call(clients[role])

    assert response.status_code == expected[role], response.json()
    if response.status_code >= 400:
        code = "permission_denied" if response.status_code == 403 else "not_authenticated"
        assert response.json()["error"]["code"] == code
        assert _written() == before
    else:
        assert _written() != before


# --- Tokens from the command line -----------------------------------------------------------


@pytest.fixture
def alice():
    user = get_user_model().objects.create_user(username="alice", password="unused-here")
    user.groups.add(Group.objects.get(name=Role.VIEWER.value))
    return user


def _client_with(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_drf_create_token_makes_a_token_that_authenticates(alice):
    out = io.StringIO()

    call_command("drf_create_token", "alice", stdout=out)

    key = Token.objects.get(user=alice).key
    assert key in out.getvalue()
    assert _client_with(key).get("/api/v1/warehouses/").status_code == 200


def test_drf_create_token_again_keeps_the_token_and_reset_replaces_it(alice):
    call_command("drf_create_token", "alice", stdout=io.StringIO())
    first = Token.objects.get(user=alice).key

    call_command("drf_create_token", "alice", stdout=io.StringIO())
    kept = Token.objects.get(user=alice).key
    call_command("drf_create_token", "alice", "--reset", stdout=io.StringIO())
    replaced = Token.objects.get(user=alice).key

    assert kept == first
    assert replaced != first
    old = _client_with(first).get("/api/v1/warehouses/")
    assert old.status_code == 401
    assert old.json()["error"]["code"] == "authentication_failed"
    assert _client_with(replaced).get("/api/v1/warehouses/").status_code == 200
