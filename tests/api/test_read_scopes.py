"""What each role may read: orders of its channels only for an integration, and connector
options that may carry a key only for ops staff (API and admin).

Berlin (BER) sells on channel EU, Baltimore (BAL) on channel NA; the integration is assigned
channel EU.
"""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.test import Client

from connectors.models import Connector
from tests.stock.factories import VariantFactory, channel_selling_from, place, stocked
from tests.warehouses.factories import WarehouseFactory
from warehouses.access import Role

pytestmark = pytest.mark.django_db

FEED_KEY = "feed-key-8f3a1c"
PUSH_PASSWORD = "push-pass-77d2"
TOKEN_OPTION = "opt-token-51b0"


@pytest.fixture
def orders():
    berlin, baltimore = WarehouseFactory(code="BER"), WarehouseFactory(code="BAL")
    europe = channel_selling_from(berlin, code="EU")
    america = channel_selling_from(baltimore, code="NA")
    sheet = VariantFactory(sku="SHEET")
    stocked(sheet, berlin, 10)
    stocked(sheet, baltimore, 10)
    return {
        "europe": europe,
        "eu": place(europe, "EU-1", ("SHEET", 1)).order,
        "na": place(america, "NA-1", ("SHEET", 1)).order,
    }


def test_an_integration_lists_and_reads_only_its_channels_orders(make_client, orders):
    integration = make_client(Role.INTEGRATION, channels=[orders["europe"]])

    listed = integration.get("/api/v1/orders/")
    filtered = integration.get("/api/v1/orders/", {"channel": "NA"})
    own = integration.get(f"/api/v1/orders/{orders['eu'].pk}/")
    other = integration.get(f"/api/v1/orders/{orders['na'].pk}/")

    assert [order["reference"] for order in listed.json()["results"]] == ["EU-1"]
    assert filtered.json()["results"] == []
    assert own.status_code == 200
    assert other.status_code == 404
    assert other.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("role", [Role.OPS_STAFF, Role.WAREHOUSE_MANAGER, Role.VIEWER])
def test_other_roles_read_every_channels_orders(make_client, orders, role):
    client = make_client(role)

    listed = client.get("/api/v1/orders/")

    assert sorted(order["reference"] for order in listed.json()["results"]) == ["EU-1", "NA-1"]
    assert client.get(f"/api/v1/orders/{orders['na'].pk}/").status_code == 200


def partner() -> Connector:
    return Connector.objects.create(
        name="partner",
        kind="partner",
        base_url="https://partner.example/api",
        webhook_secret="hook-secret",
        options={
            "feed_url": f"/stock.csv?api_key={FEED_KEY}",
            "push_url": f"https://hub:{PUSH_PASSWORD}@partner.example/push",
            "access_token": TOKEN_OPTION,
            "delimiter": ";",
        },
    )


def shows_a_secret_option(text: str) -> bool:
    return any(value in text for value in (FEED_KEY, PUSH_PASSWORD, TOKEN_OPTION))


@pytest.mark.parametrize("role", [Role.WAREHOUSE_MANAGER, Role.VIEWER, Role.INTEGRATION])
def test_connector_options_that_may_carry_keys_are_masked_below_ops_staff(make_client, role):
    connector = partner()
    client = make_client(role)

    listed = client.get("/api/v1/connectors/")
    detail = client.get(f"/api/v1/connectors/{connector.pk}/")

    assert listed.status_code == detail.status_code == 200
    assert not shows_a_secret_option(listed.content.decode())
    assert not shows_a_secret_option(detail.content.decode())
    options = detail.json()["options"]
    assert options["feed_url"] == "/stock.csv?(hidden)"
    assert options["push_url"] == "https://partner.example/push"
    assert options["access_token"] == "(hidden)"
    assert options["delimiter"] == ";"


def test_ops_staff_see_connector_options_whole(ops_client):
    connector = partner()

    detail = ops_client.get(f"/api/v1/connectors/{connector.pk}/")

    assert detail.json()["options"]["feed_url"] == f"/stock.csv?api_key={FEED_KEY}"


def staff_browser(role: Role) -> Client:
    user = get_user_model().objects.create_user(
        username=f"{role.name.lower()}-staff", password="x", is_staff=True
    )
    user.groups.add(Group.objects.get_or_create(name=role.value)[0])
    # Reading connectors in the admin, whatever rights the role's group holds today.
    user.user_permissions.add(Permission.objects.get(codename="view_connector"))
    browser = Client()
    browser.force_login(user)
    return browser


def test_the_admin_masks_connector_options_below_ops_staff(admin_client):
    connector = partner()
    url = f"/admin/connectors/connector/{connector.pk}/change/"

    viewer_page = staff_browser(Role.VIEWER).get(url)
    ops_page = admin_client.get(url)

    assert viewer_page.status_code == ops_page.status_code == 200
    assert not shows_a_secret_option(viewer_page.content.decode())
    assert "/stock.csv?(hidden)" in viewer_page.content.decode()
    assert FEED_KEY in ops_page.content.decode()
