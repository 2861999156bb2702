"""The live dashboard's pages and HTMX endpoints: who sees what, the stock table's queries,
and the forms that change stock through the services."""

import importlib
import re
import unicodedata
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.staticfiles import finders
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from stock.models import ForcedStatus, MovementSource, ReasonCode, StockLevel, StockMovement
from stock.selectors import warehouse_kpis
from stock.services import adjust_stock, count_stock, force_status, receive_stock
from stock.services.orders import cancel_order, pay_order, ship_order
from stock.views import kpis
from tests.stock.factories import (
    SYSTEM,
    Balance,
    ProductFactory,
    VariantFactory,
    balance_of,
    channel_selling_from,
    ledger_ids,
    orders_state,
    place,
    reserved,
    stocked,
)
from tests.warehouses.factories import WarehouseFactory
from warehouses.access import Role

pytestmark = pytest.mark.django_db

PAGES = ["/", "/stock/", "/orders/", "/variants/PCL-Q-WHT/"]


def signed_in(role: Role | None, *, username: str = "person", warehouses=()) -> Client:
    user = get_user_model().objects.create_user(username=username, password="unused")
    if role is not None:
        user.groups.add(Group.objects.get(name=role.value))
    for warehouse in warehouses:
        warehouse.assigned_users.add(user)
    client = Client()
    client.force_login(user)
    return client


def htmx(target: str) -> dict:
    return {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": target}


def row_ids(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr id="level-(\d+)"', html)]


def field_errors(html: str, field_id: str) -> list[str]:
    """Error messages Django renders for one field (the list tied to it by its id)."""
    found = re.search(rf'<ul class="errorlist" id="{field_id}_error">(.*?)</ul>', html, re.S)
    return re.findall(r"<li>(.*?)</li>", found.group(1)) if found else []


@pytest.fixture
def baltimore():
    return WarehouseFactory(code="BAL", name="Baltimore")


@pytest.fixture
def berlin():
    return WarehouseFactory(code="BER", name="Berlin")


@pytest.fixture
def variant():
    return VariantFactory(sku="PCL-Q-WHT", product=ProductFactory(name="Percale sheet set"))


@pytest.fixture
def level(variant, baltimore):
    return stocked(variant, baltimore, 10)


@pytest.fixture
def ops():
    return signed_in(Role.OPS_STAFF, username="ops")


# --- Who may see what --------------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_visitor_is_sent_to_sign_in(path, level):
    response = Client().get(path)

    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={path}"


@pytest.mark.parametrize("role", [Role.OPS_STAFF, Role.WAREHOUSE_MANAGER, Role.VIEWER])
@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_for_each_dashboard_role(role, path, level):
    response = signed_in(role).get(path)

    assert response.status_code == 200
    assert b'id="live-status"' in response.content
    assert b'ws-connect="/ws/live/' in response.content


@pytest.mark.parametrize("role", [Role.INTEGRATION, None])
@pytest.mark.parametrize("path", PAGES)
def test_integrations_and_users_without_a_role_are_refused(role, path, level):
    response = signed_in(role).get(path)

    assert response.status_code == 403
    assert b'data-testid="forbidden"' in response.content


def test_sign_in_page_signs_a_viewer_in_and_returns_to_the_page(level):
    get_user_model().objects.create_user(username="vera", password="s3cret-pass").groups.add(
        Group.objects.get(name=Role.VIEWER.value)
    )
    client = Client()

    response = client.post(
        "/login/", {"username": "vera", "password": "s3cret-pass", "next": "/stock/"}
    )

    assert response.status_code == 302
    assert response["Location"] == "/stock/"
    assert client.get("/stock/").status_code == 200


def test_the_other_entry_points_still_answer(ops):
    assert Client().get("/healthz").status_code in (200, 503)
    assert Client().get("/admin/login/").status_code == 200
    assert Client().get("/api/v1/warehouses/").status_code in (401, 403)


def test_viewer_sees_the_figures_but_no_form(variant, level):
    response = signed_in(Role.VIEWER).get(f"/variants/{variant.sku}/")

    assert b'data-testid="read-only-notice"' in response.content
    assert b'id="adjust-form"' not in response.content
    assert b'id="count-form"' not in response.content
    assert b'id="force-form"' not in response.content


def test_manager_sees_stock_forms_for_their_warehouses_only_and_no_force_form(
    variant, level, baltimore, berlin
):
    response = signed_in(Role.WAREHOUSE_MANAGER, warehouses=[berlin]).get(
        f"/variants/{variant.sku}/"
    )
    html = response.content.decode()

    adjust_select = re.search(r'<select name="adjust-warehouse".*?</select>', html, re.S).group(0)
    assert re.findall(r'<option value="(\d+)"', adjust_select) == [str(berlin.pk)]
    assert 'id="count-form"' in html
    assert 'id="force-form"' not in html


def test_ops_sees_every_form(variant, level, ops):
    html = ops.get(f"/variants/{variant.sku}/").content.decode()

    assert 'id="adjust-form"' in html
    assert 'id="count-form"' in html
    assert 'id="force-form"' in html


def test_unknown_sku_is_a_404_page(ops):
    response = ops.get("/variants/NO-SUCH-SKU/")

    assert response.status_code == 404
    assert b"No variant has the SKU" in response.content


# --- Overview -------------------------------------------------------------------------------------


def test_warehouse_kpis_count_every_warehouse_in_three_queries(
    baltimore, berlin, django_assert_num_queries
):
    low = VariantFactory(low_stock_threshold=5)
    stocked(low, baltimore, 3)  # low: 0 < 3 <= 5
    empty = VariantFactory()
    stocked(empty, baltimore, 2)
    adjust_stock(variant=empty, warehouse=baltimore, delta=-2, reason=ReasonCode.LOST, actor=SYSTEM)
    plenty = VariantFactory(low_stock_threshold=5)
    stocked(plenty, baltimore, 40)
    reserved(plenty, baltimore, 15)

    with django_assert_num_queries(3):
        cards = {kpi.code: kpi for kpi in warehouse_kpis()}

    bal = cards["BAL"]
    assert (bal.skus, bal.on_hand, bal.reserved, bal.inbound) == (3, 43, 15, 0)
    assert (bal.out_of_stock, bal.low_stock) == (1, 1)
    ber = cards["BER"]
    assert (ber.skus, ber.on_hand, ber.out_of_stock, ber.low_stock) == (0, 0, 0, 0)


def test_warehouse_kpis_count_a_level_by_its_own_threshold_before_the_variants(
    baltimore,
):
    own = stocked(VariantFactory(low_stock_threshold=2), baltimore, 8)
    StockLevel.objects.filter(pk=own.pk).update(low_stock_threshold=10)  # 0 < 8 <= 10: low
    not_by_own = stocked(VariantFactory(low_stock_threshold=20), baltimore, 8)
    StockLevel.objects.filter(pk=not_by_own.pk).update(low_stock_threshold=3)  # 8 > 3

    (kpi,) = warehouse_kpis(warehouse_ids=[baltimore.pk])

    assert (kpi.skus, kpi.low_stock, kpi.out_of_stock) == (2, 1, 0)


class KpiClock:
    """The KPI cache's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def kpi_clock(monkeypatch):
    cache.clear()
    clock = KpiClock()
    monkeypatch.setattr(kpis, "clock", clock)
    yield clock
    cache.clear()


def kpi_counts(client, path: str = "/") -> list[str]:
    """The KPI count queries a page load ran (the aggregate over levels)."""
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    return [
        query["sql"]
        for query in queries.captured_queries
        if 'SUM("stock_stocklevel"."on_hand")' in query["sql"]
    ]


def on_hand_card(html: str, code: str) -> str:
    card = re.search(rf'<article id="kpi-\d+"[^>]*data-warehouse="{code}".*?</article>', html, re.S)
    return re.search(r'data-field="on_hand"><dt>On hand</dt><dd>([^<]*)</dd>', card.group(0))[1]


def test_overview_shows_a_kept_count_while_a_live_overview_watches(ops, level, berlin, kpi_clock):
    kpis.watch(None)
    kpi_clock.advance(5)
    assert len(kpi_counts(ops)) == 1  # nothing kept yet
    kpi_clock.advance(5)

    again = kpi_counts(ops)

    assert again == []


def test_overview_counts_again_a_warehouse_whose_change_a_socket_noted(
    ops, variant, level, baltimore, berlin, kpi_clock
):
    kpis.watch(None)
    kpi_clock.advance(5)
    kpi_counts(ops)
    kpi_clock.advance(5)
    adjust_stock(variant=variant, warehouse=baltimore, delta=3, reason="found", actor=SYSTEM)
    kpis.note_changed([baltimore.pk])
    kpi_clock.advance(0.1)

    counts = kpi_counts(ops)
    html = ops.get("/").content.decode()

    assert len(counts) == 1 and f"IN ({baltimore.pk})" in counts[0]
    assert on_hand_card(html, "BAL") == "13"


def test_overview_counts_every_time_while_no_live_overview_watches(
    ops, variant, level, baltimore, kpi_clock
):
    kpi_counts(ops)
    kpi_clock.advance(5)
    adjust_stock(variant=variant, warehouse=baltimore, delta=3, reason="found", actor=SYSTEM)

    counts = kpi_counts(ops)

    assert len(counts) == 1
    assert on_hand_card(ops.get("/").content.decode(), "BAL") == "13"


@pytest.mark.parametrize(
    ("watch_began", "age"),
    [
        (+2, 5),  # the watch began after the count: a change before it may have gone unheard
        (-10, kpis.MAX_AGE_SECONDS + 1),  # kept too long
    ],
)
def test_overview_counts_again_when_the_watch_is_newer_than_the_count_or_it_is_old(
    ops, level, kpi_clock, watch_began, age
):
    start = kpi_clock.now
    kpi_clock.now = start + min(watch_began, 0)
    if watch_began < 0:
        kpis.watch(None)
    kpi_clock.now = start
    kpi_counts(ops)
    kpi_clock.now = start + watch_began
    if watch_began > 0:
        kpis.watch(None)
    kpi_clock.now = start + age

    assert len(kpi_counts(ops)) == 1


def test_overview_shows_a_card_per_warehouse_and_the_latest_activity(ops, level, variant, berlin):
    adjust_stock(variant=variant, warehouse=level.warehouse, delta=-4, reason="lost", actor=SYSTEM)

    html = ops.get("/").content.decode()

    assert html.count('data-testid="kpi-card"') == 2
    baltimore_card = re.search(
        r'<article id="kpi-\d+"[^>]*data-warehouse="BAL".*?</article>', html, re.S
    )
    assert "<dt>On hand</dt><dd>6</dd>" in baltimore_card.group(0)
    items = re.findall(r'<li id="activity-(\w+)"', html)
    assert len(items) == 2  # the receipt and the adjustment, newest first
    first = re.search(r'data-testid="activity-item">.*?</li>', html, re.S).group(0)
    assert "Adjusted" in first and "-4, on hand 6" in first


def test_overview_filtered_to_a_warehouse_shows_only_its_card_and_activity(
    ops, level, variant, berlin
):
    stocked(variant, berlin, 7)

    html = ops.get(f"/?warehouse={berlin.pk}").content.decode()

    assert html.count('data-testid="kpi-card"') == 1
    assert 'data-warehouse="BER"' in html
    assert "at BAL" not in html and "at BER" in html
    assert f'ws-connect="/ws/live/overview/?warehouse={berlin.pk}"' in html


def test_overview_lists_an_order_payment(ops, level, variant, baltimore):
    channel = channel_selling_from(baltimore, code="north-america", name="North America")
    pay_order(order=place(channel, "A-1", (variant.sku, 2)).order, actor=SYSTEM)

    html = ops.get("/").content.decode()

    assert "Order paid" in html and "order north-america/A-1" in html
    assert "Order placed" in html and "2 \N{MULTIPLICATION SIGN} " in html


# --- Stock table ----------------------------------------------------------------------------------


@pytest.fixture
def grid(baltimore, berlin):
    """Three variants in two warehouses, with different figures."""
    sheets = ProductFactory(name="Sateen sheet set")
    pillows = ProductFactory(name="Flannel pillowcase")
    levels = {
        "A-BAL": stocked(VariantFactory(sku="STN-A", product=sheets), baltimore, 30),
        "B-BAL": stocked(VariantFactory(sku="STN-B", product=sheets), baltimore, 2),
        "C-BAL": stocked(VariantFactory(sku="FLN-C", product=pillows), baltimore, 12),
    }
    for key, level in list(levels.items()):
        levels[key.replace("BAL", "BER")] = stocked(level.variant, berlin, 5)
    adjust_stock(
        variant=levels["B-BAL"].variant,
        warehouse=baltimore,
        delta=-2,
        reason=ReasonCode.LOST,
        actor=SYSTEM,
    )
    return {key: StockLevel.objects.get(pk=level.pk) for key, level in levels.items()}


def test_stock_table_lists_one_row_per_level_by_sku_then_warehouse(ops, grid):
    html = ops.get("/stock/").content.decode()

    assert row_ids(html) == [
        grid[key].pk for key in ("C-BAL", "C-BER", "A-BAL", "A-BER", "B-BAL", "B-BER")
    ]


def test_stock_row_shows_every_figure_status_and_forced_status(ops, grid):
    force_status(
        variant=grid["B-BAL"].variant,
        status=ForcedStatus.Forced.IN_STOCK,
        reason="incoming",
        actor=SYSTEM,
    )

    html = ops.get("/stock/?q=STN-B&warehouse=" + str(grid["B-BAL"].warehouse_id)).content.decode()

    row = re.search(rf'<tr id="level-{grid["B-BAL"].pk}".*?</tr>', html, re.S).group(0)
    cells = dict(re.findall(r'data-field="(\w+)"[^>]*>(.*?)</t[dh]>', row, re.S))
    text = {
        name: re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", value)).strip()
        for name, value in cells.items()
    }
    assert (text["on_hand"], text["reserved"], text["available"], text["inbound"]) == (
        "0",
        "0",
        "0",
        "0",
    )
    assert text["status"] == "Out of stock"
    assert '<use href="#icon-cross">' in cells["status"]  # a shape as well as a colour
    assert text["forced"] == "Forced in stock · all channels"
    assert '<use href="#icon-flag">' in cells["forced"]
    assert f'data-version="{grid["B-BAL"].version}"' in row


def test_stock_table_filters_by_warehouse(ops, grid, berlin):
    html = ops.get(f"/stock/?warehouse={berlin.pk}").content.decode()

    assert row_ids(html) == [grid[key].pk for key in ("C-BER", "A-BER", "B-BER")]


def test_stock_table_filters_by_channel(ops, grid, berlin):
    channel = channel_selling_from(berlin, code="europe", name="Europe")

    html = ops.get(f"/stock/?channel={channel.pk}").content.decode()

    assert row_ids(html) == [grid[key].pk for key in ("C-BER", "A-BER", "B-BER")]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("out_of_stock", ["B-BAL"]),
        ("low_stock", ["C-BER", "A-BER", "B-BER"]),
        ("in_stock", ["C-BAL", "A-BAL"]),
    ],
)
def test_stock_table_filters_by_status(ops, grid, status, expected):
    html = ops.get(f"/stock/?status={status}").content.decode()

    assert row_ids(html) == [grid[key].pk for key in expected]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("stn-a", ["A-BAL", "A-BER"]),
        ("flannel", ["C-BAL", "C-BER"]),
        ("nothing-like-this", []),
    ],
)
def test_stock_table_searches_sku_and_product_name(ops, grid, query, expected):
    html = ops.get(f"/stock/?q={query}").content.decode()

    assert row_ids(html) == [grid[key].pk for key in expected]


def test_stock_table_sorts_by_available_descending_within_a_warehouse(ops, grid, berlin):
    html = ops.get(f"/stock/?warehouse={berlin.pk}&sort=-available").content.decode()

    # All three Berlin levels hold 5: ties fall back to the primary key, descending too.
    assert row_ids(html) == [grid[key].pk for key in ("C-BER", "B-BER", "A-BER")]
    assert re.search(
        rf'aria-sort="descending"[^>]*>\s*<a href="\?warehouse={berlin.pk}&amp;sort=available"',
        html,
    )


def test_stock_table_sorts_by_on_hand_within_a_warehouse(ops, grid, baltimore):
    html = ops.get(f"/stock/?warehouse={baltimore.pk}&sort=on_hand").content.decode()

    assert row_ids(html) == [grid[key].pk for key in ("B-BAL", "C-BAL", "A-BAL")]


def test_figure_sort_without_a_warehouse_shows_sku_order_and_says_why(ops, grid):
    html = ops.get("/stock/?sort=-available").content.decode()

    assert row_ids(html) == [
        grid[key].pk for key in ("C-BAL", "C-BER", "A-BAL", "A-BER", "B-BAL", "B-BER")
    ]
    assert "Sorting by available needs one warehouse: choose it above." in html
    assert '<input type="hidden" name="sort" value="sku" form="stock-filters">' in html


def test_figure_headers_sort_only_once_a_warehouse_is_chosen(ops, grid, baltimore):
    everywhere = ops.get("/stock/").content.decode()
    one = ops.get(f"/stock/?warehouse={baltimore.pk}").content.decode()

    for figure in ("on_hand", "reserved", "available", "inbound"):
        assert f'data-sort="{figure}"' not in everywhere
        assert f'data-sort-off="{figure}"' in everywhere
        assert f'data-sort="{figure}"' in one
    assert "To sort by on hand, reserved, available, inbound, choose a warehouse." in everywhere
    assert 'id="sort-hint"' not in one
    assert 'data-sort="sku"' in everywhere and 'data-sort="warehouse"' in everywhere


@pytest.mark.parametrize(
    ("sort", "first_warehouse", "skus"),
    [("warehouse", "BAL", "ascending"), ("-warehouse", "BER", "descending")],
)
def test_stock_table_sorts_by_warehouse_then_sku_across_pages(
    ops, baltimore, berlin, sort, first_warehouse, skus
):
    levels = {"BAL": [], "BER": []}
    for n in range(20):
        variant = VariantFactory(sku=f"W-{n:03d}")
        levels["BAL"].append(stocked(variant, baltimore, 1).pk)
        levels["BER"].append(stocked(variant, berlin, 1).pk)
    second_warehouse = "BER" if first_warehouse == "BAL" else "BAL"
    expected = levels[first_warehouse] + levels[second_warehouse]
    if skus == "descending":
        expected = levels[first_warehouse][::-1] + levels[second_warehouse][::-1]

    pages = [
        row_ids(ops.get(f"/stock/?sort={sort}&size=25&page={number}").content.decode())
        for number in (1, 2)
    ]

    assert pages == [expected[:25], expected[25:]]


def test_stock_table_sorts_by_product_name_then_sku(ops, grid):
    html = ops.get("/stock/?sort=product").content.decode()

    expected = ("C-BAL", "C-BER", "A-BAL", "A-BER", "B-BAL", "B-BER")  # Flannel before Sateen
    assert row_ids(html) == [grid[key].pk for key in expected]


@pytest.mark.parametrize("few_matches", [500, 0])  # one sorted query; a walk per warehouse
def test_search_sorted_by_warehouse_lists_each_warehouse_in_sku_order(
    ops, grid, baltimore, berlin, monkeypatch, few_matches
):
    # The module, not the view of the same name that stock.views exports.
    monkeypatch.setattr(
        importlib.import_module("stock.views.stock_table"), "FEW_MATCHES", few_matches
    )

    ascending = ops.get("/stock/?q=stn&sort=warehouse").content.decode()
    descending = ops.get("/stock/?q=stn&sort=-warehouse").content.decode()

    assert row_ids(ascending) == [grid[key].pk for key in ("A-BAL", "B-BAL", "A-BER", "B-BER")]
    assert row_ids(descending) == [grid[key].pk for key in ("B-BER", "A-BER", "B-BAL", "A-BAL")]


def test_product_names_are_indexed_for_the_product_sort():
    with connection.cursor() as cursor:
        indexes = connection.introspection.get_constraints(cursor, "stock_product")

    assert indexes["product_name_sort"]["columns"] == ["name", "id"]


def test_search_pages_through_every_matching_row_in_order(ops, baltimore, berlin):
    levels = []
    for n in range(60):
        variant = VariantFactory(sku=f"PAGE-{n:03d}")
        levels += [stocked(variant, baltimore, 1), stocked(variant, berlin, 1)]
    VariantFactory(sku="OTHER-1")

    pages = [
        row_ids(ops.get(f"/stock/?q=page-&page={number}").content.decode()) for number in (1, 2, 3)
    ]

    assert [len(page) for page in pages] == [50, 50, 20]
    assert pages[0] + pages[1] + pages[2] == [level.pk for level in levels]


def test_search_skips_variants_without_a_row_passing_the_filters(ops, baltimore, berlin):
    at_berlin = []
    for n in range(40):
        variant = VariantFactory(sku=f"SPARSE-{n:03d}")
        stocked(variant, baltimore, 1)
        if n % 4 == 3:
            at_berlin.append(stocked(variant, berlin, 1))

    html = ops.get(f"/stock/?q=sparse&warehouse={berlin.pk}&size=25").content.decode()

    assert row_ids(html) == [level.pk for level in at_berlin]
    assert 'id="stock-next"' not in html


def test_search_in_descending_sku_order(ops, grid):
    html = ops.get("/stock/?q=stn&sort=-sku").content.decode()

    assert row_ids(html) == [grid[key].pk for key in ("B-BER", "B-BAL", "A-BER", "A-BAL")]


def test_stock_table_pages_without_counting(ops, baltimore):
    levels = [stocked(VariantFactory(sku=f"P-{n:03d}"), baltimore, 1) for n in range(30)]

    with CaptureQueriesContext(connection) as queries:
        first = ops.get("/stock/?size=25").content.decode()
    second = ops.get("/stock/?size=25&page=2").content.decode()

    assert row_ids(first) == [level.pk for level in levels[:25]]
    assert row_ids(second) == [level.pk for level in levels[25:]]
    assert 'id="stock-next" rel="next" href="?size=25&amp;page=2"' in first
    assert 'id="stock-next"' not in second
    assert "Page 2 · rows 26\N{EN DASH}30" in second
    assert not any("COUNT(" in query["sql"].upper() for query in queries.captured_queries)


def test_stock_table_ignores_malformed_filters(ops, grid):
    html = ops.get("/stock/?warehouse=abc&status=nope&sort=price&page=-3&size=7").content.decode()

    assert len(row_ids(html)) == 6
    assert "Page 1" in html


def test_stock_table_answers_htmx_with_the_results_fragment_only(ops, grid):
    response = ops.get("/stock/?q=STN", **htmx("stock-results"))
    html = response.content.decode()

    assert html.startswith('<section id="stock-results"')
    assert "<html" not in html
    assert len(row_ids(html)) == 4
    assert 'hx-get="/stock/?q=STN"' in html  # what a resync after a reconnect re-fetches
    assert "HX-Request" in response["Vary"]


def test_stock_table_query_count_does_not_grow_with_rows(ops, baltimore):
    for n in range(2):
        stocked(VariantFactory(sku=f"FEW-{n}"), baltimore, 1)
    for n in range(20):
        stocked(VariantFactory(sku=f"MANY-{n:02d}"), baltimore, 1)
    force_status(
        variant=StockLevel.objects.first().variant, status="in_stock", reason="r", actor=SYSTEM
    )

    with CaptureQueriesContext(connection) as few:
        few_html = ops.get("/stock/?q=FEW").content.decode()
    with CaptureQueriesContext(connection) as many:
        many_html = ops.get("/stock/?q=MANY").content.decode()

    assert (len(row_ids(few_html)), len(row_ids(many_html))) == (2, 20)
    assert len(few.captured_queries) == len(many.captured_queries)


# --- Forms ---------------------------------------------------------------------------------------


def adjust(client, variant, **fields):
    data = {f"adjust-{name}": value for name, value in fields.items()}
    return client.post(f"/variants/{variant.sku}/adjust/", data, **htmx("adjust-form"))


def count(client, variant, **fields):
    data = {f"count-{name}": value for name, value in fields.items()}
    return client.post(f"/variants/{variant.sku}/count/", data, **htmx("count-form"))


def test_adjustment_goes_through_the_service_as_the_user_with_its_reason(
    ops, variant, level, baltimore
):
    response = adjust(
        ops, variant, warehouse=baltimore.pk, delta="-3", reason="damaged", note="forklift"
    )
    html = response.content.decode()

    assert response.status_code == 200
    assert balance_of(level) == Balance(on_hand=7, version=2)
    movement = StockMovement.objects.latest("pk")
    assert (movement.kind, movement.delta_on_hand, movement.reason, movement.note) == (
        "adjustment",
        -3,
        "damaged",
        "forklift",
    )
    assert (movement.source, movement.actor_label, movement.actor_kind) == (
        MovementSource.MANUAL,
        "ops",
        "user",
    )
    assert f"on hand 10 → 7 (\N{MINUS SIGN}3), recorded as movement #{movement.pk}" in html
    assert html.startswith('<form id="adjust-form"')
    # A row out of band is wrapped in <template>, where an HTML parser keeps it whole.
    row = re.search(rf'<template><tr id="warehouse-level-{level.pk}"[^>]*>', html).group(0)
    assert 'hx-swap-oob="true"' in row and 'data-version="2"' in row
    assert '<section id="variant-chart"' in html


def selected_warehouse(html: str, prefix: str) -> str:
    select = re.search(rf'<select name="{prefix}-warehouse".*?</select>', html, re.S).group(0)
    chosen = re.search(r'<option value="(\d+)"[^>]*selected', select)
    # With none marked selected, a browser shows the first option.
    return (chosen or re.search(r'<option value="(\d+)"', select)).group(1)


@pytest.mark.parametrize(
    ("post", "prefix", "value", "reason"),
    [(adjust, "adjust", "-1", "damaged"), (count, "count", "4", "cycle_count")],
)
def test_stock_form_keeps_the_warehouse_just_used_for_the_next_change(
    ops, variant, level, baltimore, post, prefix, value, reason
):
    # Codes sort AUS, BAL, BER: the form starts on AUS, the first.
    WarehouseFactory(code="AUS", name="Austin")
    stocked(variant, WarehouseFactory(code="BER", name="Berlin"), 5)
    page = ops.get(f"/variants/{variant.sku}/").content.decode()
    quantity = "delta" if prefix == "adjust" else "counted"

    response = post(ops, variant, warehouse=baltimore.pk, reason=reason, **{quantity: value})

    assert response.status_code == 200
    assert selected_warehouse(page, prefix) != str(baltimore.pk)
    assert selected_warehouse(response.content.decode(), prefix) == str(baltimore.pk)


@pytest.mark.parametrize(
    ("fields", "field_id", "message"),
    [
        ({"delta": "abc"}, "id_adjust-delta", "Enter a whole number."),
        ({"delta": "1.5"}, "id_adjust-delta", "Enter a whole number."),
        ({"delta": "0"}, "id_adjust-delta", "Enter a change other than zero."),
        (
            {"delta": "2000000000"},
            "id_adjust-delta",
            "Ensure this value is less than or equal to 1000000000.",
        ),
        ({"reason": ""}, "id_adjust-reason", "This field is required."),
        (
            {"reason": "order"},
            "id_adjust-reason",
            "Select a valid choice. order is not one of the available choices.",
        ),
        (
            {"reason": "other", "note": "  "},
            "id_adjust-note",
            "Explain the change: the reason “Other” needs a note.",
        ),
        (
            {"delta": "-11"},
            "id_adjust-delta",
            "PCL-Q-WHT at BAL: only 10 on hand, short by 1.",
        ),
    ],
)
def test_bad_adjustment_is_refused_next_to_its_field_and_changes_nothing(
    ops, variant, level, baltimore, fields, field_id, message
):
    before = ledger_ids()
    data = {"warehouse": baltimore.pk, "delta": "2", "reason": "found", "note": "", **fields}

    response = adjust(ops, variant, **data)
    html = response.content.decode()

    assert response.status_code == 422
    assert html.startswith('<form id="adjust-form"')
    assert field_errors(html, field_id) == [message]
    assert re.search(
        rf'id="{field_id}"[^>]*aria-invalid="true"|aria-invalid="true"[^>]*id="{field_id}"', html
    )
    assert "Nothing was changed" in html
    assert balance_of(level) == Balance(on_hand=10, version=1)
    assert ledger_ids() == before


def test_manager_cannot_adjust_a_warehouse_outside_their_scope(variant, level, baltimore, berlin):
    manager = signed_in(Role.WAREHOUSE_MANAGER, username="berlin-manager", warehouses=[berlin])
    before = ledger_ids()

    response = adjust(manager, variant, warehouse=baltimore.pk, delta="5", reason="found")

    assert response.status_code == 422
    assert field_errors(response.content.decode(), "id_adjust-warehouse") == [
        "Select a valid choice. That choice is not one of the available choices."
    ]
    assert balance_of(level) == Balance(on_hand=10, version=1)
    assert ledger_ids() == before


def test_manager_adjusts_their_own_warehouse(variant, berlin):
    berlin_level = stocked(variant, berlin, 4)
    manager = signed_in(Role.WAREHOUSE_MANAGER, username="berlin-manager", warehouses=[berlin])

    response = adjust(manager, variant, warehouse=berlin.pk, delta="5", reason="found")

    assert response.status_code == 200
    assert balance_of(berlin_level) == Balance(on_hand=9, version=2)


def test_viewer_posting_an_adjustment_is_refused_and_changes_nothing(variant, level, baltimore):
    viewer = signed_in(Role.VIEWER, username="viewer")
    before = ledger_ids()

    response = adjust(viewer, variant, warehouse=baltimore.pk, delta="5", reason="found")

    assert response.status_code == 403
    assert "Your role may only read stock; nothing was changed." in response.content.decode()
    assert balance_of(level) == Balance(on_hand=10, version=1)
    assert ledger_ids() == before


def test_adjustment_without_htmx_redirects_back_to_the_page(ops, variant, level, baltimore):
    response = ops.post(
        f"/variants/{variant.sku}/adjust/",
        {"adjust-warehouse": baltimore.pk, "adjust-delta": "1", "adjust-reason": "found"},
    )

    assert response.status_code == 302
    assert response["Location"] == f"/variants/{variant.sku}/"
    assert balance_of(level) == Balance(on_hand=11, version=2)


def test_count_records_the_variance(ops, variant, level, baltimore):
    response = count(ops, variant, warehouse=baltimore.pk, counted="8", reason="cycle_count")

    assert response.status_code == 200
    assert balance_of(level) == Balance(on_hand=8, version=2)
    movement = StockMovement.objects.latest("pk")
    assert (movement.kind, movement.delta_on_hand, movement.reason) == ("count", -2, "cycle_count")
    assert "counted 8, the books said 10; variance \N{MINUS SIGN}2" in response.content.decode()


def test_count_matching_the_books_writes_nothing_and_says_so(ops, variant, level, baltimore):
    before = ledger_ids()

    response = count(ops, variant, warehouse=baltimore.pk, counted="10", reason="stocktake")

    assert response.status_code == 200
    assert "the count matches the 10 on hand; nothing to record" in response.content.decode()
    assert ledger_ids() == before


@pytest.mark.parametrize(
    ("counted", "message"),
    [("-1", "Ensure this value is greater than or equal to 0."), ("", "This field is required.")],
)
def test_bad_count_is_refused_and_changes_nothing(ops, variant, level, baltimore, counted, message):
    before = ledger_ids()

    response = count(ops, variant, warehouse=baltimore.pk, counted=counted, reason="stocktake")

    assert response.status_code == 422
    assert field_errors(response.content.decode(), "id_count-counted") == [message]
    assert balance_of(level) == Balance(on_hand=10, version=1)
    assert ledger_ids() == before


def test_count_at_an_inactive_warehouse_is_refused(ops, variant, level, baltimore):
    closed = WarehouseFactory(code="OLD", is_active=False)
    before = ledger_ids()

    response = count(ops, variant, warehouse=closed.pk, counted="3", reason="stocktake")

    assert response.status_code == 422
    assert field_errors(response.content.decode(), "id_count-warehouse") == [
        "Select a valid choice. That choice is not one of the available choices."
    ]
    assert ledger_ids() == before


def force(client, variant, **fields):
    data = {f"force-{name}": value for name, value in fields.items()}
    return client.post(f"/variants/{variant.sku}/force/", data, **htmx("force-form"))


def test_ops_forces_a_status_on_one_channel_with_a_reason(ops, variant, level, baltimore):
    channel = channel_selling_from(baltimore, code="europe", name="Europe")

    response = force(ops, variant, channel=channel.pk, status="out_of_stock", reason="recall")

    assert response.status_code == 200
    forced = ForcedStatus.objects.get()
    assert (forced.channel_id, forced.status, forced.reason, forced.actor_label) == (
        channel.pk,
        "out_of_stock",
        "recall",
        "ops",
    )
    html = response.content.decode()
    assert "now shows “forced out of stock” on Europe" in html
    assert '<section id="variant-forced" ' in html and "hx-swap-oob" in html


@pytest.mark.parametrize(
    ("fields", "field_id", "message"),
    [
        ({"reason": "   "}, "id_force-reason", "This field is required."),
        ({"status": "maybe"}, "id_force-status", None),
        ({"expires_at": "2001-01-01T10:00"}, "id_force-expires_at", "Pick a moment in the future."),
        ({"expires_at": "tomorrow"}, "id_force-expires_at", "Enter a valid date/time."),
    ],
)
def test_bad_force_is_refused_and_writes_nothing(ops, variant, level, fields, field_id, message):
    data = {"channel": "", "status": "in_stock", "reason": "launch", "expires_at": "", **fields}

    response = force(ops, variant, **data)

    assert response.status_code == 422
    errors = field_errors(response.content.decode(), field_id)
    assert len(errors) == 1 and (message is None or errors == [message])
    assert ForcedStatus.objects.count() == 0


@pytest.mark.parametrize("until", ["", "tomorrow"])
def test_forced_status_answer_offers_its_end_button_at_once(ops, variant, level, until):
    expires = (timezone.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M") if until else ""

    response = force(
        ops, variant, channel="", status="in_stock", reason="launch", expires_at=expires
    )
    html = response.content.decode()

    assert response.status_code == 200
    forced = re.search(r'<section id="variant-forced".*?</section>', html, re.S).group(0)
    assert 'data-testid="forced-override"' in forced
    assert 'data-testid="unforce-button"' in forced
    assert ("until " in forced) == bool(until)


def test_manager_may_not_force_a_status(variant, level, berlin):
    manager = signed_in(Role.WAREHOUSE_MANAGER, username="m", warehouses=[berlin])

    response = force(manager, variant, channel="", status="in_stock", reason="launch")

    assert response.status_code == 403
    assert ForcedStatus.objects.count() == 0


def unforce(client, variant, **fields):
    return client.post(f"/variants/{variant.sku}/unforce/", fields, **htmx("variant-forced"))


def test_ops_ends_an_override_with_a_reason_shown_in_the_history(ops, variant, level):
    force_status(variant=variant, status="in_stock", reason="launch", actor=SYSTEM)

    response = unforce(ops, variant, channel="", reason="launch is over")
    html = response.content.decode()

    assert response.status_code == 200
    ended = ForcedStatus.objects.get()
    assert (ended.ended_at is not None, ended.ended_by, ended.end_reason) == (
        True,
        "ops",
        "launch is over",
    )
    assert "The forced status on every channel has ended." in html
    history = re.search(r'<ol class="forced-history plain".*?</ol>', html, re.S).group(0)
    assert "Forced in stock on all channels" in history
    assert "by ops: “launch is over”" in history
    # And on the page itself, for whoever opens it later.
    page = ops.get(f"/variants/{variant.sku}/").content.decode()
    assert "by ops: “launch is over”" in page


def test_ending_an_override_without_a_reason_is_refused_next_to_it(ops, variant, level):
    force_status(variant=variant, status="in_stock", reason="launch", actor=SYSTEM)

    response = unforce(ops, variant, channel="", reason="   ")
    html = response.content.decode()

    assert response.status_code == 422
    assert ForcedStatus.objects.get().ended_at is None
    field = re.search(r'<input type="text" name="reason" id="unforce-reason-all"[^>]*>', html)
    assert 'aria-invalid="true"' in field.group(0)
    assert (
        '<ul class="errorlist" id="unforce-reason-all-error"><li>Say why the override ends: '
        "the reason is kept with it.</li></ul>"
    ) in html


def test_ending_an_override_without_htmx_and_without_a_reason_shows_the_page_again(
    ops, variant, level
):
    force_status(variant=variant, status="in_stock", reason="launch", actor=SYSTEM)

    response = ops.post(f"/variants/{variant.sku}/unforce/", {"channel": "", "reason": ""})

    assert response.status_code == 422
    assert (
        "<h1>" in response.content.decode() and 'aria-invalid="true"' in response.content.decode()
    )
    assert ForcedStatus.objects.get().ended_at is None


def test_ending_an_override_that_is_gone_changes_nothing(ops, variant, level):
    response = unforce(ops, variant, channel="", reason="tidy up")

    assert response.status_code == 422
    assert "That override no longer exists; nothing was changed." in response.content.decode()


def test_viewer_may_not_end_an_override(variant, level):
    force_status(variant=variant, status="in_stock", reason="launch", actor=SYSTEM)

    response = unforce(signed_in(Role.VIEWER), variant, channel="", reason="mine now")

    assert response.status_code == 403
    assert ForcedStatus.objects.get().ended_at is None


# --- Variant detail and orders ------------------------------------------------------------------


def test_variant_page_shows_each_warehouse_channels_chart_and_holding_orders(
    ops, variant, level, baltimore, berlin
):
    stocked(variant, berlin, 6)
    channel = channel_selling_from(baltimore, berlin, code="europe", name="Europe", safety_buffer=1)
    place(channel, "E-7", (variant.sku, 3))

    html = ops.get(f"/variants/{variant.sku}/").content.decode()

    assert html.count('data-testid="variant-level-row"') == 2
    assert '<span class="big" data-field="salable">12</span>' in html  # 7 + 6, less the buffer of 1
    assert html.count('data-testid="history-chart"') == 2
    assert 'data-warehouse="BAL" data-on-hand="10" data-available="7"' in html
    assert "europe/E-7" in html and "3 at BAL" in html


def test_variant_page_shows_a_channels_shortfall_in_its_salable_breakdown(
    ops, variant, level, baltimore
):
    channel = channel_selling_from(baltimore, code="woo", name="WooCommerce")
    place(channel, "SHORT-1", (variant.sku, 13), accept_shortfall=True)

    html = ops.get(f"/variants/{variant.sku}/").content.decode()

    assert '<td class="num" data-field="shortfall">\N{MINUS SIGN}3</td>' in html
    assert '<span class="big" data-field="salable">0</span>' in html


def test_orders_page_sorts_orders_into_their_sections(ops, variant, level, baltimore):
    channel = channel_selling_from(baltimore, code="north-america", name="North America")
    place(channel, "HOLD-1", (variant.sku, 1))
    pay_order(order=place(channel, "PAID-1", (variant.sku, 1)).order, actor=SYSTEM)

    html = ops.get("/orders/").content.decode()

    sections = dict(re.findall(r'<section id="orders-(\w+)".*?</h2>(.*?)</section>', html, re.S))
    assert '<span class="order-ref">HOLD-1</span>' in sections["placed"]
    assert "north-america · placed" in sections["placed"]
    assert "data-countdown" in sections["placed"]
    assert '<span class="order-ref">PAID-1</span>' in sections["paid"]
    assert "HOLD-1" not in sections["paid"]
    assert "No order has shipped yet." in sections["shipped"]


def test_orders_page_flags_short_orders_as_incidents_with_their_shortfall(
    ops, variant, level, baltimore
):
    channel = channel_selling_from(baltimore, code="woo", name="WooCommerce")
    place(channel, "HOLD-1", (variant.sku, 1))
    short = place(channel, "SHORT-1", (variant.sku, 13), accept_shortfall=True).order

    html = ops.get("/orders/").content.decode()

    sections = dict(re.findall(r'<section id="orders-(\w+)".*?</h2>(.*?)</section>', html, re.S))
    assert list(sections)[:2] == ["short", "placed"]
    assert f'<tr id="short-order-{short.pk}"' in sections["short"]
    assert (
        '<span class="status status--out_of_stock" data-field="short">4 short</span>'
        in (sections["short"])
    )
    assert "HOLD-1" not in sections["short"]
    assert "SHORT-1" in sections["placed"]


def test_orders_page_has_no_short_section_without_short_orders(ops, variant, level, baltimore):
    channel = channel_selling_from(baltimore, code="woo", name="WooCommerce")
    place(channel, "HOLD-1", (variant.sku, 1))

    html = ops.get("/orders/").content.decode()

    assert 'id="orders-short"' not in html


def test_orders_page_answers_a_resync_with_its_region(ops):
    response = ops.get("/orders/", **htmx("live-region"))

    assert response.content.decode().startswith('<div id="live-region"')


def short_order(variant, baltimore):
    """Thirteen sold on the store against ten on hand: three short."""
    channel = channel_selling_from(baltimore, code="woo", name="WooCommerce")
    return place(channel, "SHORT-1", (variant.sku, 13), accept_shortfall=True).order


def short_quantities(order) -> list[int]:
    return list(order.lines.order_by("line_number").values_list("short_quantity", flat=True))


def test_ops_sees_resolve_buttons_on_each_short_order(ops, variant, level, baltimore):
    order = short_order(variant, baltimore)

    html = ops.get("/orders/").content.decode()

    assert f'action="/orders/{order.pk}/fill-shortfall/"' in html
    assert f'action="/orders/{order.pk}/cancel-short-units/"' in html
    assert "(admin or API)" not in html


def test_fill_shortfall_after_a_restock_holds_the_units_and_updates_the_region(
    ops, variant, level, baltimore, verify_ledger_clean
):
    order = short_order(variant, baltimore)
    receive_stock(variant=variant, warehouse=baltimore, quantity=5, actor=SYSTEM)

    response = ops.post(f"/orders/{order.pk}/fill-shortfall/", **htmx("orders-region"))

    html = response.content.decode()
    assert response.status_code == 200
    assert html.startswith('<div id="live-region"')
    assert 'id="orders-short"' not in html
    assert "Order SHORT-1: the shortfall was filled" in html
    assert short_quantities(order) == [0]
    assert balance_of(level).reserved == 13
    verify_ledger_clean()


def test_cancel_short_units_clears_the_shortfall(
    ops, variant, level, baltimore, verify_ledger_clean
):
    order = short_order(variant, baltimore)
    before = balance_of(level)

    response = ops.post(f"/orders/{order.pk}/cancel-short-units/", **htmx("orders-region"))

    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="orders-short"' not in html
    assert "Order SHORT-1: the short units were cancelled" in html
    assert list(order.lines.values_list("quantity", "short_quantity")) == [(10, 0)]
    assert balance_of(level) == before
    verify_ledger_clean()


def test_viewer_sees_no_resolve_buttons(variant, level, baltimore):
    short_order(variant, baltimore)

    html = signed_in(Role.VIEWER).get("/orders/").content.decode()

    assert "ops staff do either from this page" in html
    assert "fill-shortfall-button" not in html
    assert "cancel-short-units-button" not in html


@pytest.mark.parametrize("action", ["fill-shortfall", "cancel-short-units"])
def test_viewer_is_refused_a_short_order_action(action, variant, level, baltimore):
    order = short_order(variant, baltimore)
    receive_stock(variant=variant, warehouse=baltimore, quantity=5, actor=SYSTEM)
    before, ledger = orders_state(), ledger_ids()

    response = signed_in(Role.VIEWER).post(f"/orders/{order.pk}/{action}/", **htmx("x"))

    assert response.status_code == 403
    assert "nothing was changed" in response.content.decode()
    assert orders_state() == before
    assert ledger_ids() == ledger


@pytest.mark.parametrize("action", ["fill-shortfall", "cancel-short-units"])
def test_short_order_action_on_a_cancelled_order_answers_with_a_message(
    action, ops, variant, level, baltimore, verify_ledger_clean
):
    order = short_order(variant, baltimore)
    cancel_order(order=order, actor=SYSTEM)
    receive_stock(variant=variant, warehouse=baltimore, quantity=5, actor=SYSTEM)
    before, ledger, balance = orders_state(), ledger_ids(), balance_of(level)

    response = ops.post(f"/orders/{order.pk}/{action}/", **htmx("orders-region"))

    html = response.content.decode()
    assert response.status_code == 422
    assert html.startswith('<div id="live-region"')
    assert "is cancelled. Nothing was changed." in html
    assert orders_state() == before
    assert ledger_ids() == ledger
    assert balance_of(level) == balance
    verify_ledger_clean()


# --- What every page looks like ----------------------------------------------------------------

# Characters every system font draws: ASCII, Latin-1 and the few symbols of WGL4 the pages
# use. Anything else (a check mark, a flag, an hourglass) may show as an empty box on a
# laptop or tablet without a symbol font: the pages draw such symbols as inline SVG
# (templates/shell/partials/icon_sprite.html).
WGL4_SYMBOLS = [
    "EN DASH",
    "EM DASH",
    "LEFT SINGLE QUOTATION MARK",
    "RIGHT SINGLE QUOTATION MARK",
    "LEFT DOUBLE QUOTATION MARK",
    "RIGHT DOUBLE QUOTATION MARK",
    "BULLET",
    "HORIZONTAL ELLIPSIS",
    "SINGLE LEFT-POINTING ANGLE QUOTATION MARK",
    "SINGLE RIGHT-POINTING ANGLE QUOTATION MARK",
    "EURO SIGN",
    "LEFTWARDS ARROW",
    "UPWARDS ARROW",
    "RIGHTWARDS ARROW",
    "DOWNWARDS ARROW",
    "UP DOWN ARROW",
    "MINUS SIGN",
    "LESS-THAN OR EQUAL TO",
    "GREATER-THAN OR EQUAL TO",
    "INFINITY",
    "BLACK UP-POINTING TRIANGLE",
    "BLACK DOWN-POINTING TRIANGLE",
    "BLACK CIRCLE",
]
EVERY_FONT = (
    {chr(code) for code in range(0x20, 0x7F)}
    | {chr(code) for code in range(0xA0, 0x100)}
    | {unicodedata.lookup(name) for name in WGL4_SYMBOLS}
)


@pytest.fixture
def busy_shop(variant, level, baltimore, berlin):
    """Every kind of feed line, every stock status, a forced status and every order state."""
    channel = channel_selling_from(baltimore, code="north-america", name="North America")
    low = stocked(VariantFactory(sku="LOW-1", low_stock_threshold=5), baltimore, 2)
    stocked(VariantFactory(sku="GONE-1"), berlin, 1)
    adjust_stock(
        variant=low.variant, warehouse=berlin, delta=1, reason=ReasonCode.FOUND, actor=SYSTEM
    )
    count_stock(
        variant=variant, warehouse=baltimore, counted=12, reason="cycle_count", actor=SYSTEM
    )
    paid = place(channel, "PAID-1", (variant.sku, 1)).order
    pay_order(order=paid, actor=SYSTEM)
    ship_order(order=paid, actor=SYSTEM)
    cancel_order(order=place(channel, "GONE-1", (variant.sku, 1)).order, actor=SYSTEM)
    place(channel, "HOLD-1", (variant.sku, 2))
    force_status(
        variant=variant, status=ForcedStatus.Forced.OUT_OF_STOCK, reason="recall", actor=SYSTEM
    )


@pytest.mark.parametrize(
    "path", [*PAGES, "/stock/?status=out_of_stock", "/stock/?status=low_stock"]
)
def test_pages_use_only_characters_every_font_draws(ops, busy_shop, path):
    html = ops.get(path).content.decode()

    assert {char for char in html if not char.isspace()} - EVERY_FONT == set()
    assert '<use href="#icon-' in html and 'id="icon-check"' in html


def test_stylesheet_draws_its_symbols_with_svg_too():
    css = finders.find("dashboard/dashboard.css")

    with open(css, encoding="utf-8") as stylesheet:
        assert {char for char in stylesheet.read() if not char.isspace()} - EVERY_FONT == set()


@pytest.mark.parametrize("path", [*PAGES, "/login/"])
def test_every_page_links_the_hub_favicon(path, level, ops):
    html = (ops if path != "/login/" else Client()).get(path).content.decode()

    assert '<link rel="icon" href="/static/dashboard/favicon.svg" type="image/svg+xml">' in html
    assert finders.find("dashboard/favicon.svg") is not None


def test_movement_shows_when_it_happened_and_when_recorded_only_if_much_later(
    ops, variant, level, baltimore
):
    happened = timezone.now() - timedelta(days=3)
    backdated = adjust_stock(
        variant=variant,
        warehouse=baltimore,
        delta=-2,
        reason=ReasonCode.LOST,
        actor=SYSTEM,
        occurred_at=happened,
    ).row["id"]
    now = adjust_stock(
        variant=variant, warehouse=baltimore, delta=1, reason=ReasonCode.FOUND, actor=SYSTEM
    ).row["id"]

    html = ops.get(f"/variants/{variant.sku}/").content.decode()

    rows = dict(re.findall(r'<tr id="movement-(\d+)".*?<td data-col="when"(.*?)</td>', html, re.S))
    late, prompt = rows[str(backdated)], rows[str(now)]
    assert f'<time datetime="{happened.isoformat()}" data-relative>3' in late
    assert 'days ago</time><span class="sub">recorded <time' in late
    assert "recorded" not in prompt.split(">", 1)[1]
