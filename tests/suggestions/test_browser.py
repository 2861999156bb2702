"""Deciding suggestions in real headless Chromium against `manage.py runhub`.

Ops staff approve one suggestion and dismiss the other on the Suggestions page; a viewer
keeps the page open meanwhile and sees each decision pushed over the live socket, without
a reload and without a button of their own. Skipped, saying why, where Chromium or
Playwright is missing (tests/conftest.py).
"""

import pytest
from playwright.sync_api import expect

from suggestions.models import Suggestion, SuggestionState
from tests.browser_support import outside_browser_loop

# The live hub and headless Chromium of the stock pages' browser tests, shared as they are.
from tests.stock.conftest import browser_page, chromium, live_hub  # noqa: F401
from tests.stock.factories import VariantFactory, stocked
from tests.stock.test_dashboard_browser import log_in, open_live, user_with_role, was_not_reloaded
from tests.transfers.factories import LaneFactory
from tests.warehouses.factories import WarehouseFactory
from transfers.models import Transfer, TransferState
from warehouses.access import Role

from .pages_support import suggest

pytestmark = [
    pytest.mark.browser,
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

PAGE = "/suggestions/"
PUSH_MS = 5000
# An action the server answers after several writes (a transfer created and approved).
ACTION_MS = 15000


def build_suggestions() -> tuple[int, int]:
    north = WarehouseFactory(code="NORTH", name="North")
    lane = LaneFactory(source=north, destination=WarehouseFactory(code="SOUTH"))
    sheet, pillow = VariantFactory(sku="PCL-Q"), VariantFactory(sku="PIL-1")
    stocked(sheet, north, 20)
    stocked(pillow, north, 20)
    user_with_role("ops", Role.OPS_STAFF)
    user_with_role("watcher", Role.VIEWER)
    return suggest(sheet, lane, quantity=5).pk, suggest(pillow, lane, quantity=4).pk


@pytest.fixture
def suggestion_ids(live_hub):  # noqa: F811
    return outside_browser_loop(build_suggestions)


@pytest.fixture
def watcher_page(chromium, live_hub, suggestion_ids):  # noqa: F811
    context = chromium.new_context()
    page = context.new_page()
    log_in(page, live_hub, username="watcher")
    open_live(page, live_hub, PAGE)
    yield page
    context.close()


def row(page, suggestion_id: int):
    return page.locator(f"tr[data-testid='suggestion-row'][data-suggestion='{suggestion_id}']")


def test_approving_and_dismissing_are_seen_live_by_a_viewer(
    browser_page,  # noqa: F811
    live_hub,  # noqa: F811
    suggestion_ids,
    watcher_page,
):
    page = browser_page
    approved_id, dismissed_id = suggestion_ids
    log_in(page, live_hub, username="ops")
    open_live(page, live_hub, PAGE)
    expect(page.get_by_test_id("suggestion-row")).to_have_count(2)
    expect(watcher_page.get_by_test_id("suggestion-row")).to_have_count(2)
    expect(watcher_page.get_by_test_id("read-only-notice")).to_be_visible()

    row(page, approved_id).get_by_test_id("approve-button").click()

    # Creating and approving the transfer is a handful of writes: on a loaded machine it has
    # taken longer than Playwright's default 5 s.
    expect(page.get_by_test_id("suggestion-result")).to_contain_text(
        "1 transfer created and approved", timeout=ACTION_MS
    )
    expect(row(page, approved_id)).to_have_count(0)
    expect(row(watcher_page, approved_id)).to_have_count(0, timeout=PUSH_MS)
    expect(row(watcher_page, dismissed_id)).to_have_count(1)

    dismissing = row(page, dismissed_id)
    dismissing.locator("input[name='note']").fill("promotion ends")
    dismissing.get_by_test_id("dismiss-button").click()

    expect(page.get_by_test_id("no-suggestions")).to_be_visible()
    expect(watcher_page.get_by_test_id("no-suggestions")).to_be_visible(timeout=PUSH_MS)
    expect(watcher_page.get_by_test_id("decided-suggestion")).to_have_count(2)
    assert watcher_page.locator("[data-testid$='-button']").count() == 0
    assert was_not_reloaded(watcher_page)
    assert page.js_errors == []

    def decided() -> tuple[list, list]:
        states = sorted(Suggestion.objects.values_list("pk", "state"))
        transfers = list(Transfer.objects.values_list("state", flat=True))
        return states, transfers

    states, transfers = outside_browser_loop(decided)
    assert states == [
        (approved_id, SuggestionState.APPROVED),
        (dismissed_id, SuggestionState.DISMISSED),
    ]
    assert transfers == [TransferState.APPROVED]
