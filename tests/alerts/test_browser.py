"""An alert's life on the dashboard, in real headless Chromium against `manage.py runhub`.

Ops create an available-below rule in the rule editor (so the hub's own process publishes
it). An adjustment through the hub's API drops a level under the threshold: the hub's
reaction queues the evaluation on its embedded worker, the alert fires, and the overview's
alerts tile and the Alerts page show it without a reload. It is acknowledged on the
overview, the Alerts page moves it to "Acknowledged", and the escalation ladder of its
severity (an e-mail at once, an SMS later) takes no further step at the next tick.
Skipped, saying why, where Chromium or Playwright is missing (tests/conftest.py).
"""

import os
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.utils import timezone
from playwright.sync_api import expect
from rest_framework.authtoken.models import Token

from alerts.models import Alert, Notification, NotificationKind
from alerts.services import escalate_due, save_escalation_step, save_receiver, save_route
from tests.browser_support import outside_browser_loop
from tests.stock.factories import ProductFactory, VariantFactory, stocked
from tests.stock.test_dashboard_browser import log_in, open_live, user_with_role, was_not_reloaded
from tests.warehouses.factories import WarehouseFactory
from warehouses.access import Role

pytestmark = [
    pytest.mark.browser,
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

SKU = "PCL-SHEET-QUEEN"
# The evaluation waits for its debounce and a worker; a loaded machine gets room.
ALERT_MS = 20_000
PUSH_MS = 5000


def build() -> requests.Session:
    north = WarehouseFactory(code="NORTH", name="North")
    stocked(VariantFactory(sku=SKU, product=ProductFactory(name="Percale")), north, 8)
    user_with_role("ops", Role.OPS_STAFF)
    screens = save_receiver(name="ops screens", kind="dashboard")
    save_route(
        name="critical to screens",
        receiver=screens,
        matchers={"severity": "critical"},
        group_wait_seconds=0,
    )
    mail = save_receiver(name="ops mail", kind="email", config={"addresses": ["ops@hub.test"]})
    sms = save_receiver(name="ops phone", kind="sms", config={"numbers": ["+4915112345678"]})
    save_escalation_step(severity="critical", position=1, after_minutes=0, receiver=mail)
    save_escalation_step(severity="critical", position=2, after_minutes=10, receiver=sms)
    api = requests.Session()
    robot = user_with_role("ops-robot", Role.OPS_STAFF)
    api.headers["Authorization"] = f"Token {Token.objects.create(user=robot).key}"
    return api


@pytest.fixture
def api(live_hub):
    return outside_browser_loop(build)


def create_rule_in_the_editor(page, live_hub) -> None:
    page.goto(live_hub.url("/alerts/rules/new/"))
    form = page.get_by_test_id("rule-form")
    form.locator("input[name='name']").fill("North low")
    form.locator("select[name='condition']").select_option("available_below")
    form.locator("input[name='threshold']").fill("5")
    form.locator("select[name='severity']").select_option("critical")
    # The preview follows the form: nothing is below 5 yet.
    expect(page.get_by_test_id("preview-count")).to_contain_text("0 subjects match now")
    form.get_by_test_id("rule-save").click()
    expect(page.locator("tr[data-rule='North low']")).to_be_visible()


def keep_screenshots(**pages) -> None:
    """With HUB_SCREENSHOT_DIR set, each page as it ends (to look at the layout)."""
    folder = os.environ.get("HUB_SCREENSHOT_DIR")
    if folder:
        for name, shown in pages.items():
            shown.screenshot(path=str(Path(folder) / f"alerts-{name}.png"), full_page=True)


def one_tick_later() -> tuple[list[Notification], Alert]:
    """The escalation sweep, run once half an hour on: every step would be due by then."""
    made = escalate_due(now=timezone.now() + timedelta(minutes=30))
    return made, Alert.objects.get()


def test_an_alert_appears_live_on_the_overview_is_acknowledged_there_and_stops_escalating(
    browser_page, live_hub, api
):
    page = browser_page
    log_in(page, live_hub, username="ops")
    create_rule_in_the_editor(page, live_hub)
    alerts_page = page.context.new_page()
    open_live(alerts_page, live_hub, "/alerts/")
    open_live(page, live_hub, "/")
    tile = page.get_by_test_id("alerts-tile")
    expect(tile.locator("[data-field='firing_critical'] dd")).to_have_text("0")

    answer = api.post(
        live_hub.url("/api/v1/stock/adjustments/"),
        json={"sku": SKU, "warehouse": "NORTH", "delta": -6, "reason": "damaged"},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text

    latest = tile.get_by_test_id("tile-alert")
    expect(latest).to_have_count(1, timeout=ALERT_MS)
    expect(latest).to_contain_text(f"{SKU} at NORTH: 2 available (low)")
    expect(tile.locator("[data-field='firing_critical'] dd")).to_have_text("1")
    firing = alerts_page.locator("[data-section='firing'] [data-testid='alert']")
    expect(firing).to_have_count(1, timeout=PUSH_MS)
    keep_screenshots(overview=page, alerts=alerts_page)

    latest.get_by_test_id("tile-acknowledge").click()
    # The answer says so; the push that follows (the acknowledgement is a change) may
    # already have replaced it with the same figures.
    expect(tile.get_by_test_id("tile-alert")).to_have_count(0)
    expect(tile).to_contain_text("Every firing alert is acknowledged.")
    acknowledged = alerts_page.locator("[data-section='acknowledged'] [data-testid='alert']")
    expect(acknowledged).to_have_count(1, timeout=PUSH_MS)
    expect(acknowledged).to_contain_text("Acknowledged by ops")
    expect(firing).to_have_count(0)

    before = outside_browser_loop(lambda: Alert.objects.get().escalation_step)
    made, alert = outside_browser_loop(one_tick_later)
    assert made == []
    assert alert.escalation_step == before <= 1
    assert (alert.state, alert.acknowledged_by) == ("firing", "ops")
    sent = outside_browser_loop(
        lambda: list(
            Notification.objects.filter(kind=NotificationKind.ESCALATION).values_list(
                "receiver__name", flat=True
            )
        )
    )
    assert "ops phone" not in sent  # the ladder's later step never went out
    assert was_not_reloaded(page) and was_not_reloaded(alerts_page)
    assert page.js_errors == []
