"""A transfer's whole life in real headless Chromium against `manage.py runhub`.

One person drafts a transfer from the variant page, approves it, picks and ships it, receives part
of it with a damaged unit and closes it short, all through the pages. Two other browsers
keep the Transfers page and the variant page open meanwhile: they must show every change
pushed over the live socket, without a reload. Skipped, saying why, where Chromium or
Playwright is missing (tests/conftest.py).
"""

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from stock.models import StockLevel
from tests.browser_support import VIEWPORT, outside_browser_loop
from tests.stock.factories import ProductFactory, VariantFactory, stocked
from tests.stock.test_dashboard_browser import log_in, open_live, user_with_role, was_not_reloaded
from tests.warehouses.factories import WarehouseFactory
from transfers.models import Transfer, TransferState
from warehouses.access import Role

from .factories import LaneFactory, assert_identity

pytestmark = [
    pytest.mark.browser,
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

SKU = "PCL-SHEET-QUEEN"
# Pushes arrive well within a second; a loaded machine gets room, a reload never passes.
PUSH_MS = 5000


def build_route() -> None:
    north = WarehouseFactory(code="NORTH", name="North")
    south = WarehouseFactory(code="SOUTH", name="South")
    LaneFactory(source=north, destination=south, lead_time_days=3)
    variant = VariantFactory(sku=SKU, product=ProductFactory(name="Percale"))
    stocked(variant, north, 10)
    stocked(variant, south, 1)  # the destination's row is on the page from the start
    user_with_role("ops", Role.OPS_STAFF)
    user_with_role("watcher", Role.VIEWER)


@pytest.fixture
def route(live_hub):
    outside_browser_loop(build_route)


@pytest.fixture
def watcher_pages(chromium, live_hub, route):
    """The Transfers page and the variant page, open in a viewer's own browser context, and
    a third page of that context for the transfer's own page once it exists."""
    context = chromium.new_context(viewport=VIEWPORT)
    transfers, variant, detail = context.new_page(), context.new_page(), context.new_page()
    log_in(transfers, live_hub, username="watcher")
    open_live(transfers, live_hub, "/transfers/")
    open_live(variant, live_hub, f"/variants/{SKU}/")
    yield transfers, variant, detail
    context.close()


def keep_screenshots(**pages) -> None:
    """With HUB_SCREENSHOT_DIR set, each page as it ends (to look at the layout)."""
    folder = os.environ.get("HUB_SCREENSHOT_DIR")
    if folder:
        for name, shown in pages.items():
            shown.screenshot(path=str(Path(folder) / f"transfers-{name}.png"), full_page=True)


def level_cell(page, warehouse: str, field: str):
    row = page.locator(f"tr[data-testid='variant-level-row'][data-warehouse='{warehouse}']")
    return row.locator(f"[data-field='{field}']")


def panel_cell(page, warehouse: str, field: str):
    row = page.locator(f"tr[data-testid='variant-transfer-row'][data-warehouse='{warehouse}']")
    return row.locator(f"[data-field='{field}']")


def lane_units(page):
    return page.locator("tr[data-lane='NORTH-SOUTH'] [data-field='units']")


def transfer_row(page, state: str):
    return page.locator(
        f"[data-testid='transfer-section'][data-state='{state}'] [data-testid='transfer-row']"
    )


def test_a_transfer_from_draft_to_closed_short_is_seen_live_on_other_pages(
    browser_page, live_hub, watcher_pages
):
    page = browser_page
    transfers, variant, detail = watcher_pages
    log_in(page, live_hub, username="ops")
    open_live(page, live_hub, f"/variants/{SKU}/")

    # Drafted from the variant page: the Transfers page lists it at once.
    form = page.locator("#create-transfer-form")
    form.locator("select[name='source']").select_option(label="NORTH — North")
    form.locator("select[name='destination']").select_option(label="SOUTH — South")
    form.locator("input[name='quantity']").fill("4")
    form.locator("input[name='reason']").fill("south runs low")
    form.get_by_test_id("create-transfer-submit").click()
    link = page.get_by_test_id("created-transfer-link")
    expect(link).to_be_visible()
    expect(transfer_row(transfers, "draft")).to_have_count(1, timeout=PUSH_MS)
    expect(transfers.locator("#transfers-draft [data-field='count']")).to_have_text("1")
    reference = link.inner_text().removeprefix("Open ")
    # A draft moves no stock: the variant pages hear of it from the transfer itself.
    listed = f"{reference} 4 NORTH → SOUTH · Draft"
    expect(variant.get_by_test_id("variant-transfers")).to_contain_text(listed, timeout=PUSH_MS)
    expect(page.get_by_test_id("variant-transfers")).to_contain_text(listed, timeout=PUSH_MS)

    link.click()
    expect(page.get_by_test_id("transfer-summary")).to_have_attribute("data-state", "draft")
    # The viewer opens it too: figures and timeline, and no form to use.
    open_live(detail, live_hub, page.url.removeprefix(live_hub.base_url))
    watched = detail.get_by_test_id("transfer-summary")
    expect(detail.get_by_test_id("read-only-notice")).to_be_visible()

    # Approved: held at the source.
    page.get_by_test_id("approve-button").click()
    expect(page.get_by_test_id("transfer-summary")).to_have_attribute("data-state", "approved")
    expect(transfer_row(transfers, "approved")).to_have_count(1, timeout=PUSH_MS)
    expect(transfer_row(transfers, "draft")).to_have_count(0)
    expect(level_cell(variant, "NORTH", "reserved")).to_have_text("4", timeout=PUSH_MS)
    expect(level_cell(variant, "NORTH", "available")).to_have_text("6")
    expect(panel_cell(variant, "NORTH", "held")).to_have_text("4", timeout=PUSH_MS)
    expect(watched).to_have_attribute("data-state", "approved", timeout=PUSH_MS)

    # Picked: no stock moves, every page still shows the new state.
    page.get_by_test_id("pick-button").click()
    expect(page.get_by_test_id("transfer-summary")).to_have_attribute("data-state", "picked")
    expect(transfer_row(transfers, "picked")).to_have_count(1, timeout=PUSH_MS)
    expect(variant.get_by_test_id("variant-transfers")).to_contain_text("· Picked", timeout=PUSH_MS)
    expect(watched).to_have_attribute("data-state", "picked", timeout=PUSH_MS)

    # Shipped: on the road, inbound at the destination.
    page.get_by_test_id("ship-button").click()
    expect(page.get_by_test_id("transfer-summary")).to_have_attribute("data-state", "shipped")
    expect(transfer_row(transfers, "shipped")).to_have_count(1, timeout=PUSH_MS)
    expect(lane_units(transfers)).to_have_text("4", timeout=PUSH_MS)
    expect(level_cell(variant, "NORTH", "on_hand")).to_have_text("6", timeout=PUSH_MS)
    expect(level_cell(variant, "NORTH", "reserved")).to_have_text("0")
    expect(level_cell(variant, "SOUTH", "inbound")).to_have_text("4", timeout=PUSH_MS)
    expect(panel_cell(variant, "NORTH", "outgoing")).to_have_text("4", timeout=PUSH_MS)
    expect(panel_cell(variant, "SOUTH", "incoming")).to_have_text("4")
    expect(watched.locator("[data-field='shipped']")).to_have_text("4", timeout=PUSH_MS)
    expect(watched.locator("[data-field='in_transit']")).to_have_text("4")

    keep_screenshots(shipped=page)

    # Part of it received: two accepted, one damaged kept as unsellable.
    receipt = page.get_by_test_id("receive-form")
    line = receipt.get_by_test_id("receipt-line")
    line.locator("input[name$='-accepted']").fill("2")
    line.locator("input[name$='-rejected']").fill("1")
    line.locator("select[name$='-reason']").select_option("damaged")
    line.locator("select[name$='-disposition']").select_option("unsellable")
    page.get_by_test_id("receive-submit").click()
    summary = page.get_by_test_id("transfer-summary")
    expect(summary).to_have_attribute("data-state", "partially_received")
    expect(summary.locator("[data-field='in_transit']")).to_have_text("1")
    expect(transfer_row(transfers, "partially_received")).to_have_count(1, timeout=PUSH_MS)
    expect(lane_units(transfers)).to_have_text("1", timeout=PUSH_MS)
    expect(level_cell(variant, "SOUTH", "on_hand")).to_have_text("4", timeout=PUSH_MS)
    expect(level_cell(variant, "SOUTH", "unsellable")).to_have_text("1")
    expect(level_cell(variant, "SOUTH", "inbound")).to_have_text("1")
    expect(panel_cell(variant, "SOUTH", "incoming")).to_have_text("1", timeout=PUSH_MS)
    expect(watched.locator("[data-field='accepted']")).to_have_text("2", timeout=PUSH_MS)
    expect(watched.locator("[data-field='rejected']")).to_have_text("1")
    expect(watched.locator("[data-field='in_transit']")).to_have_text("1")

    # Closed short: the last unit is written off, nothing is on the road any more.
    page.get_by_test_id("close-short-form").locator("textarea, input[name='note']").fill(
        "one unit never arrived"
    )
    page.get_by_test_id("close-short-submit").click()
    expect(summary).to_have_attribute("data-state", "closed_short")
    expect(summary.locator("[data-field='lost']")).to_have_text("1")
    expect(transfers.locator("[data-testid='closed-transfer']")).to_have_attribute(
        "data-state", "closed_short", timeout=PUSH_MS
    )
    expect(transfer_row(transfers, "partially_received")).to_have_count(0)
    expect(lane_units(transfers)).to_have_count(0)
    expect(level_cell(variant, "SOUTH", "inbound")).to_have_text("0", timeout=PUSH_MS)
    expect(variant.get_by_test_id("no-transfers")).to_be_visible(timeout=PUSH_MS)
    expect(watched).to_have_attribute("data-state", "closed_short", timeout=PUSH_MS)
    expect(watched.locator("[data-field='lost']")).to_have_text("1")
    expect(watched.locator("[data-field='in_transit']")).to_have_text("0")
    expect(watched.get_by_test_id("transfer-event")).to_have_count(6)
    expect(detail.get_by_test_id("read-only-notice")).to_contain_text("closed")

    assert all(was_not_reloaded(watcher) for watcher in (transfers, variant, detail))
    keep_screenshots(page=page, transfers=transfers, variant=variant)
    assert page.js_errors == []
    transfer = Transfer.objects.get()
    assert transfer.state == TransferState.CLOSED_SHORT
    assert [event.kind for event in transfer.events.order_by("id")] == [
        "created",
        "approved",
        "picked",
        "shipped",
        "received",
        "closed_short",
    ]
    south = StockLevel.objects.get(variant__sku=SKU, warehouse__code="SOUTH")
    assert (south.on_hand, south.unsellable, south.inbound) == (4, 1, 0)
    assert_identity(transfer)
