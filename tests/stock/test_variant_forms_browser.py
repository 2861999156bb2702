"""The variant page's forms in real headless Chromium against `manage.py runhub`.

What a person sees right after submitting: the warehouse they just used stays chosen, and a
forced status can be ended at once, without reloading the page.
"""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from stock.models import ForcedStatus, StockLevel
from tests.stock.factories import ProductFactory, VariantFactory, stocked
from tests.stock.test_dashboard_browser import (
    MARKER,
    log_in,
    open_live,
    user_with_role,
    was_not_reloaded,
)
from tests.warehouses.factories import (
    ChannelWarehouseFactory,
    SalesChannelFactory,
    WarehouseFactory,
)
from warehouses.access import Role

pytestmark = [
    pytest.mark.browser,
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def sheet(live_hub):
    baltimore = WarehouseFactory(code="BAL", name="Baltimore")
    berlin = WarehouseFactory(code="BER", name="Berlin")
    channel = SalesChannelFactory(code="na", name="North America")
    ChannelWarehouseFactory(channel=channel, warehouse=baltimore, priority=1)
    ChannelWarehouseFactory(channel=channel, warehouse=berlin, priority=2)
    variant = VariantFactory(sku="PCL-SHEET-QUEEN", product=ProductFactory(name="Percale"))
    levels = {
        code: stocked(variant, warehouse, 10)
        for code, warehouse in (("BAL", baltimore), ("BER", berlin))
    }
    user_with_role("manager", Role.WAREHOUSE_MANAGER, warehouses=[baltimore, berlin])
    user_with_role("ops", Role.OPS_STAFF)
    return {"variant": variant, "levels": levels, "berlin": berlin}


def on_hand(level: StockLevel) -> int:
    return StockLevel.objects.get(pk=level.pk).on_hand


def test_second_adjustment_lands_in_the_warehouse_chosen_for_the_first(
    browser_page, live_hub, sheet
):
    page = browser_page
    log_in(page, live_hub, username="manager")
    open_live(page, live_hub, f"/variants/{sheet['variant'].sku}/")
    form = page.locator("#adjust-form")
    warehouse = form.locator("select[name='adjust-warehouse']")
    # The first warehouse by code is chosen to begin with.
    expect(warehouse.locator("option:checked")).to_have_text("BAL — Baltimore")

    warehouse.select_option(str(sheet["berlin"].pk))
    form.locator("input[name='adjust-delta']").fill("3")
    form.locator("select[name='adjust-reason']").select_option("found")
    form.get_by_role("button").click()
    expect(page.locator("#adjust-form .notice")).to_contain_text("at BER", timeout=5000)
    expect(page.locator("#adjust-form select[name='adjust-warehouse']")).to_have_value(
        str(sheet["berlin"].pk)
    )
    page.locator("#adjust-form input[name='adjust-delta']").fill("2")
    page.locator("#adjust-form select[name='adjust-reason']").select_option("found")
    page.locator("#adjust-form").get_by_role("button").click()
    expect(page.locator("#adjust-form .notice")).to_contain_text("13 → 15")

    assert (on_hand(sheet["levels"]["BER"]), on_hand(sheet["levels"]["BAL"])) == (15, 10)
    assert was_not_reloaded(page)
    assert page.js_errors == []


def test_a_status_forced_until_a_date_can_be_ended_at_once(browser_page, live_hub, sheet):
    page = browser_page
    log_in(page, live_hub, username="ops")
    # No live pushes: the End button must come with the form's own answer, as it does when a
    # push arrives before that answer and is overwritten by it.
    page.route_web_socket(re.compile(r"/ws/"), lambda socket: None)
    page.goto(live_hub.url(f"/variants/{sheet['variant'].sku}/"))
    page.evaluate(f"{MARKER} = 'not reloaded'")
    until = timezone.localtime(timezone.now() + timedelta(days=2))
    form = page.locator("#force-form")
    form.locator("select[name='force-status']").select_option("out_of_stock")
    form.locator("input[name='force-reason']").fill("recall")
    form.locator("input[name='force-expires_at']").fill(f"{until:%Y-%m-%dT%H:%M}")

    form.get_by_role("button", name="Force status").click()

    forced = page.locator("#variant-forced")
    expect(forced).to_contain_text("until")
    end = forced.get_by_test_id("unforce-button")
    expect(end).to_be_visible()
    forced.get_by_test_id("unforce-reason").fill("recall withdrawn")
    end.click()
    expect(forced).to_contain_text("has ended")
    assert ForcedStatus.objects.get().end_reason == "recall withdrawn"
    assert was_not_reloaded(page)
    assert page.js_errors == []
