"""The connectors page (connectors.pages): each store's sync health, dead letters and their
replay by ops staff, reconciliation reports; and what every dashboard page must do."""

import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from django.utils import timezone

from connectors.models import (
    CircuitState,
    Connector,
    ConnectorKind,
    InboxEvent,
    InboxState,
    OutboxItem,
    ReconciliationReport,
    SyncRun,
    SyncRunKind,
)
from tests.stock.factories import ProductFactory, VariantFactory
from tests.stock.test_views import EVERY_FONT, htmx, signed_in
from tests.warehouses.factories import WarehouseFactory
from warehouses.access import Role

pytestmark = pytest.mark.django_db

PAGE = "/connectors/"


@pytest.fixture
def baltimore():
    return WarehouseFactory(code="BAL", name="Baltimore")


@pytest.fixture
def variant():
    return VariantFactory(sku="PCL-Q-WHT", product=ProductFactory(name="Percale sheet set"))


@pytest.fixture
def ops():
    return signed_in(Role.OPS_STAFF, username="ops")


@pytest.fixture
def stores(baltimore, variant):
    """A healthy store with a dead letter and a report; a store whose breaker is open."""
    now = timezone.now()
    shop = Connector.objects.create(
        name="Shop", kind=ConnectorKind.WOOCOMMERCE, last_pull_at=now, last_push_at=now
    )
    eu = Connector.objects.create(
        name="EU store",
        kind=ConnectorKind.MAGENTO,
        circuit_state=CircuitState.OPEN,
        circuit_opened_at=now,
        consecutive_failures=6,
        last_error="HTTP 503 from the store",
    )
    OutboxItem.objects.create(connector=eu, variant=variant)
    dead = InboxEvent.objects.create(
        connector=shop,
        topic="order.updated",
        delivery_id="wc-1",
        state=InboxState.DEAD,
        attempts=8,
        last_error="Unknown SKU NOPE-1",
    )
    InboxEvent.objects.create(connector=shop, topic="order.created", state=InboxState.PROCESSED)
    ReconciliationReport.objects.create(
        connector=shop, is_ok=True, checked=12, drifted=2, corrected=2, unmapped=[{"sku": "X"}]
    )
    return {"shop": shop, "eu": eu, "dead": dead}


def test_connectors_page_shows_each_stores_health_dead_letters_and_reports(ops, stores):
    html = ops.get("/connectors/").content.decode()

    rows = dict(re.findall(r'<tr id="connector-(\d+)"(.*?)</tr>', html, re.S))
    shop, eu = rows[str(stores["shop"].pk)], rows[str(stores["eu"].pk)]
    assert "Pushing" in shop and "none" in shop
    assert "Store down: not pushing" in eu and "6 failed in a row" in eu
    assert "HTTP 503 from the store" in eu
    assert re.search(r'data-field="queue">1<', eu)  # the pending push
    assert re.search(r'data-field="dead_letters">1', shop)
    dead = re.findall(r'<tr id="dead-letter-(\d+)"', html)
    assert dead == [str(stores["dead"].pk)] and "Unknown SKU NOPE-1" in html
    report = re.search(r'<tr id="report-\d+".*?</tr>', html, re.S).group(0)
    assert [int(n) for n in re.findall(r'<td class="num">(\d+)</td>', report)] == [12, 2, 2, 1]
    assert 'ws-connect="/ws/live/connectors/"' in html
    assert 'aria-current="page">Connectors</a>' in html


def test_a_switched_off_store_is_not_shown_as_pushing_and_an_archived_one_not_at_all(ops):
    Connector.objects.create(name="Off shop", kind=ConnectorKind.WOOCOMMERCE, is_active=False)
    Connector.objects.create(
        name="Old shop",
        kind=ConnectorKind.WOOCOMMERCE,
        is_active=False,
        archived_at=timezone.now(),
    )

    html = ops.get(PAGE).content.decode()

    [row] = re.findall(r'<tr id="connector-\d+"(.*?)</tr>', html, re.S)
    assert "Off shop" in row
    assert "Switched off: not pushing" in row
    assert "Pushing" not in row
    assert "Old shop" not in html


def test_the_part_of_the_last_poll_that_failed_is_named(ops):
    shop = Connector.objects.create(
        name="Shop", kind=ConnectorKind.WOOCOMMERCE, last_pull_at=timezone.now()
    )
    SyncRun.objects.create(
        connector=shop,
        kind=SyncRunKind.POLL,
        finished_at=timezone.now(),
        is_ok=False,
        details={"failed_parts": {"orders": "WooCommerce answered 401 to GET /orders"}},
    )

    html = ops.get(PAGE).content.decode()

    cell = re.search(r'data-field="last_pull">(.*?)</td>', html, re.S).group(1)
    assert "ago</time>" in cell
    assert "orders read failed: WooCommerce answered 401 to GET /orders" in cell


def test_viewer_sees_the_connectors_page_without_replay_buttons(stores):
    html = signed_in(Role.VIEWER).get("/connectors/").content.decode()

    assert 'data-testid="connector-row"' in html
    assert "replay-event" not in html and "replay-store" not in html


def test_ops_replays_one_dead_letter(ops, stores, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as queued:
        response = ops.post(
            "/connectors/replay/", {"event": stores["dead"].pk}, **htmx("live-region")
        )

    stores["dead"].refresh_from_db()
    assert response.status_code == 200
    assert (stores["dead"].state, stores["dead"].attempts) == (InboxState.RECEIVED, 0)
    assert len(queued) == 1  # its processing task, enqueued on commit
    assert f"Queued dead letter #{stores['dead'].pk} again (1 event)" in response.content.decode()


def test_ops_replays_every_dead_letter_of_a_store(ops, stores):
    response = ops.post(
        "/connectors/replay/", {"connector": stores["shop"].pk}, **htmx("live-region")
    )

    assert response.status_code == 200
    assert not InboxEvent.objects.filter(state=InboxState.DEAD).exists()
    assert "Queued the dead letters of Shop again (1 event)" in response.content.decode()


def test_replay_without_htmx_redirects_back_to_the_page(ops, stores):
    response = ops.post("/connectors/replay/", {"event": stores["dead"].pk})

    assert response.status_code == 302
    assert response["Location"] == PAGE
    assert InboxEvent.objects.get(pk=stores["dead"].pk).state == InboxState.RECEIVED


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "Choose one dead letter, or one store&#x27;s dead letters."),
        ({"event": "abc"}, "Choose one dead letter, or one store&#x27;s dead letters."),
    ],
)
def test_replay_of_nothing_in_particular_is_refused(ops, stores, fields, message):
    response = ops.post("/connectors/replay/", fields, **htmx("live-region"))

    assert response.status_code == 422
    assert message in response.content.decode()
    assert InboxEvent.objects.filter(state=InboxState.DEAD).count() == 1


def test_replay_of_an_event_that_is_not_dead_queues_nothing(ops, stores):
    processed = InboxEvent.objects.get(state=InboxState.PROCESSED)

    response = ops.post("/connectors/replay/", {"event": processed.pk}, **htmx("live-region"))

    processed.refresh_from_db()
    assert response.status_code == 422
    assert processed.state == InboxState.PROCESSED
    assert "is not dead (any more)" in response.content.decode()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.WAREHOUSE_MANAGER])
def test_only_ops_staff_may_replay(stores, role):
    response = signed_in(role).post(
        "/connectors/replay/", {"event": stores["dead"].pk}, **htmx("live-region")
    )

    assert response.status_code == 403
    assert InboxEvent.objects.get(pk=stores["dead"].pk).state == InboxState.DEAD


# --- What every dashboard page does (as tests/stock/test_views.py checks for stock's) --------


def test_anonymous_visitor_is_sent_to_sign_in():
    response = Client().get(PAGE)

    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={PAGE}"


@pytest.mark.parametrize("role", [Role.OPS_STAFF, Role.WAREHOUSE_MANAGER, Role.VIEWER])
def test_page_renders_live_for_each_dashboard_role(role, stores):
    response = signed_in(role).get(PAGE)

    assert response.status_code == 200
    assert b'id="live-status"' in response.content
    assert b'ws-connect="/ws/live/connectors/"' in response.content


@pytest.mark.parametrize("role", [Role.INTEGRATION, None])
def test_integrations_and_users_without_a_role_are_refused(role, stores):
    response = signed_in(role).get(PAGE)

    assert response.status_code == 403
    assert b'data-testid="forbidden"' in response.content


def test_page_uses_only_characters_every_font_draws(ops, stores):
    html = ops.get(PAGE).content.decode()

    assert {char for char in html if not char.isspace()} - EVERY_FONT == set()
    assert '<use href="#icon-' in html and 'id="icon-check"' in html


def test_page_links_the_hub_favicon(ops):
    html = ops.get(PAGE).content.decode()

    assert '<link rel="icon" href="/static/dashboard/favicon.svg" type="image/svg+xml">' in html
    assert finders.find("dashboard/favicon.svg") is not None
