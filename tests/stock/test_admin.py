import datetime
import hashlib
import re
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from django.contrib.admin import site
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import AsyncRequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from stock.admin.common import csv_download
from stock.csv_io import EXPORT_COLUMNS, export_csv_chunks
from stock.models import (
    BackorderPolicy,
    DailyStockSnapshot,
    ForcedStatus,
    MovementKind,
    MovementSource,
    ReasonCode,
    StockLevel,
    StockMovement,
    StockStatus,
    Variant,
)
from stock.services import (
    adjust_stock,
    force_status,
    mark_unsellable,
    receive_stock,
    set_backorder_policy,
    set_safety_stock,
)
from tests.stock.factories import SYSTEM, ProductFactory, VariantFactory, stocked
from tests.warehouses.factories import (
    ChannelWarehouseFactory,
    SalesChannelFactory,
    WarehouseFactory,
)
from tests.warehouses.test_admin import change_form_data

pytestmark = pytest.mark.django_db

HEADER = ",".join(EXPORT_COLUMNS) + "\r\n"


def ledger_state() -> tuple[list[tuple], int]:
    levels = list(
        StockLevel.objects.order_by("pk").values_list(
            "pk", "on_hand", "reserved", "unsellable", "safety_stock", "inbound", "version"
        )
    )
    return levels, StockMovement.objects.count()


def labels(response) -> list[str]:
    return [
        f"{level.variant.sku}@{level.warehouse.code}"
        for level in response.context["cl"].result_list
    ]


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def streamed(response) -> str:
    return b"".join(response.streaming_content).decode()


@pytest.fixture
def shop():
    """Four levels, one of each status, in two warehouses sold on two channels.

    SHEET-Q@BAL 20 in stock · SHEET-Q@AUS 3 low · TOWEL-B@BAL 0 backorder · PILLOW@AUS 0 out.
    """
    bal, aus = WarehouseFactory(code="BAL"), WarehouseFactory(code="AUS")
    north, europe = SalesChannelFactory(code="north"), SalesChannelFactory(code="europe")
    ChannelWarehouseFactory(channel=north, warehouse=bal, priority=1)
    ChannelWarehouseFactory(channel=europe, warehouse=aus, priority=1)
    sheet = VariantFactory(sku="SHEET-Q", product=ProductFactory(name="Percale sheet"))
    towel = VariantFactory(
        sku="TOWEL-B", product=ProductFactory(name="Bath towel"), backorders=BackorderPolicy.ALLOW
    )
    pillow = VariantFactory(sku="PILLOW", product=ProductFactory(name="Down pillow"))
    levels = {
        "sheet_bal": stocked(sheet, bal, 20),
        "sheet_aus": stocked(sheet, aus, 3),
        "towel_bal": stocked(towel, bal, 2),
        "pillow_aus": stocked(pillow, aus, 1),
    }
    adjust_stock(variant=towel, warehouse=bal, delta=-2, reason="lost", actor=SYSTEM)
    adjust_stock(variant=pillow, warehouse=aus, delta=-1, reason="lost", actor=SYSTEM)
    for level in levels.values():
        level.refresh_from_db()
    return {
        "bal": bal,
        "aus": aus,
        "north": north,
        "europe": europe,
        "sheet": sheet,
        "towel": towel,
        "pillow": pillow,
        **levels,
    }


def adjust_url(level: StockLevel) -> str:
    return reverse("admin:stock_stocklevel_adjust", args=[level.pk])


def level_url(level: StockLevel) -> str:
    return reverse("admin:stock_stocklevel_change", args=[level.pk])


CHANGELIST = "admin:stock_stocklevel_changelist"


# --- Pages load -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "model",
    ["product", "variant", "stocklevel", "stockmovement", "forcedstatus", "dailystocksnapshot"],
)
def test_stock_changelists_load_for_a_superuser(admin_client, shop, model):
    force_status(variant=shop["sheet"], status="out_of_stock", reason="recall", actor=SYSTEM)
    DailyStockSnapshot.objects.create(
        level=shop["sheet_bal"],
        day=datetime.date(2025, 1, 1),
        on_hand=20,
        reserved=0,
        unsellable=0,
        safety_stock=0,
        inbound=0,
    )

    response = admin_client.get(reverse(f"admin:stock_{model}_changelist"))

    assert response.status_code == 200
    assert response.context["cl"].result_count >= 1


@pytest.mark.parametrize(
    "model",
    ["product", "variant", "stocklevel", "stockmovement", "forcedstatus", "dailystocksnapshot"],
)
def test_every_filter_choice_of_every_stock_changelist_answers(admin_client, shop, model):
    force_status(variant=shop["sheet"], status="out_of_stock", reason="recall", actor=SYSTEM)
    DailyStockSnapshot.objects.create(
        level=shop["sheet_bal"],
        day=datetime.date.today(),
        on_hand=20,
        reserved=0,
        unsellable=0,
        safety_stock=0,
        inbound=0,
    )
    url = reverse(f"admin:stock_{model}_changelist")
    changelist = admin_client.get(url).context["cl"]
    queries = [
        choice["query_string"]
        for spec in changelist.filter_specs
        for choice in spec.choices(changelist)
    ]

    statuses = {query: admin_client.get(url + query).status_code for query in queries}

    assert len(queries) > len(changelist.filter_specs)
    assert statuses == dict.fromkeys(queries, 200)


def test_stock_change_pages_load_for_a_superuser(admin_client, shop):
    forced = force_status(variant=shop["sheet"], status="in_stock", reason="promo", actor=SYSTEM)
    snapshot = DailyStockSnapshot.objects.create(
        level=shop["sheet_bal"],
        day=datetime.date(2025, 1, 1),
        on_hand=20,
        reserved=0,
        unsellable=0,
        safety_stock=0,
        inbound=0,
    )
    movement = StockMovement.objects.filter(level=shop["sheet_bal"]).get()
    pages = [
        ("product", shop["sheet"].product_id),
        ("variant", shop["sheet"].pk),
        ("stocklevel", shop["sheet_bal"].pk),
        ("stockmovement", movement.pk),
        ("forcedstatus", forced.pk),
        ("dailystocksnapshot", snapshot.pk),
    ]

    statuses = {
        model: admin_client.get(reverse(f"admin:stock_{model}_change", args=[pk])).status_code
        for model, pk in pages
    }

    assert statuses == dict.fromkeys(statuses, 200)


def test_stock_level_page_is_titled_sku_at_warehouse_and_lists_its_movements(admin_client, shop):
    level = shop["towel_bal"]

    html = admin_client.get(level_url(level)).content.decode()

    assert "<title>TOWEL-B @ BAL |" in html
    assert f"{level.variant_id}@{level.warehouse_id}" not in html
    movements = re.search(r"<th>when</th>.*?</tbody>", html, re.S).group(0)
    deltas = re.findall(r"<td>([+-]\d+)</td>", movements)
    assert deltas == ["-2", "+2"]


def test_variant_page_shows_real_and_forced_status_per_channel(admin_client, shop):
    force_status(
        variant=shop["sheet"],
        status="out_of_stock",
        reason="supplier recall",
        channel=shop["north"],
        actor=SYSTEM,
    )

    response = admin_client.get(reverse("admin:stock_variant_change", args=[shop["sheet"].pk]))

    html = response.content.decode()
    assert "<tr><td>europe</td><td>3</td><td>Low stock</td><td>—</td></tr>" in html
    assert (
        "<tr><td>north</td><td>20</td><td>In stock</td>"
        "<td>Forced out of stock: supplier recall</td></tr>"
    ) in html


# --- Stock level list filters and search ---------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ["PILLOW@AUS", "SHEET-Q@AUS", "SHEET-Q@BAL", "TOWEL-B@BAL"]),
        ({"status": StockStatus.IN_STOCK}, ["SHEET-Q@BAL"]),
        ({"status": StockStatus.LOW_STOCK}, ["SHEET-Q@AUS"]),
        ({"status": StockStatus.OUT_OF_STOCK}, ["PILLOW@AUS"]),
        ({"status": StockStatus.BACKORDER}, ["TOWEL-B@BAL"]),
        ({"below_threshold": "yes"}, ["PILLOW@AUS", "SHEET-Q@AUS", "TOWEL-B@BAL"]),
        ({"below_threshold": "no"}, ["SHEET-Q@BAL"]),
        ({"is_backorder_allowed__exact": "1"}, ["TOWEL-B@BAL"]),
        ({"q": "towel"}, ["TOWEL-B@BAL"]),
        ({"q": "SHEET-Q"}, ["SHEET-Q@AUS", "SHEET-Q@BAL"]),
    ],
)
def test_stock_level_changelist_filters_and_searches(admin_client, shop, query, expected):
    response = admin_client.get(reverse(CHANGELIST), query)

    assert response.status_code == 200
    assert labels(response) == expected


def test_stock_level_changelist_filters_by_warehouse_and_by_channel(admin_client, shop):
    by_warehouse = admin_client.get(reverse(CHANGELIST), {"warehouse__id__exact": shop["bal"].pk})
    by_channel = admin_client.get(reverse(CHANGELIST), {"channel": shop["europe"].pk})

    assert labels(by_warehouse) == ["SHEET-Q@BAL", "TOWEL-B@BAL"]
    assert labels(by_channel) == ["PILLOW@AUS", "SHEET-Q@AUS"]


def test_status_filter_agrees_with_the_status_of_every_level(admin_client, shop):
    # A level's own threshold wins over the variant's: 20 available at threshold 25 is low.
    StockLevel.objects.filter(pk=shop["sheet_bal"].pk).update(low_stock_threshold=25)
    StockLevel.objects.filter(pk=shop["sheet_aus"].pk).update(low_stock_threshold=2)
    levels = StockLevel.objects.select_related("variant", "warehouse")
    expected = {
        status: sorted(
            f"{lv.variant.sku}@{lv.warehouse.code}" for lv in levels if lv.status == status
        )
        for status in StockStatus.values
    }

    found = {
        status: sorted(labels(admin_client.get(reverse(CHANGELIST), {"status": status})))
        for status in StockStatus.values
    }

    assert found == expected
    assert found[StockStatus.LOW_STOCK] == ["SHEET-Q@BAL"]
    assert found[StockStatus.IN_STOCK] == ["SHEET-Q@AUS"]


def test_stock_level_changelist_query_count_does_not_grow_with_rows(
    admin_client, django_assert_max_num_queries
):
    warehouse = WarehouseFactory(code="BAL")
    SalesChannelFactory(code="north")

    def add_levels(count: int) -> None:
        for quantity in range(1, count + 1):
            stocked(VariantFactory(), warehouse, quantity)

    def changelist_queries(expected_rows: int) -> int:
        with CaptureQueriesContext(connection) as queries:
            response = admin_client.get(reverse(CHANGELIST))
        assert len(response.context["cl"].result_list) == expected_rows
        return len(queries)

    add_levels(5)
    with django_assert_max_num_queries(6):
        few = changelist_queries(5)
    add_levels(45)
    with django_assert_max_num_queries(6):
        many = changelist_queries(50)

    assert few == many


# --- Stock levels are not edited by hand --------------------------------------------------------


def test_stock_level_change_form_saves_the_threshold_and_ignores_quantities(admin_client, shop):
    level = shop["sheet_bal"]
    data = change_form_data(admin_client.get(level_url(level)))
    data.update({"low_stock_threshold": 12, "on_hand": 999, "available": 999, "reserved": 5})
    before_movements = StockMovement.objects.count()

    response = admin_client.post(level_url(level), data)

    assert response.status_code == 302
    level.refresh_from_db()
    assert (level.on_hand, level.reserved, level.available, level.low_stock_threshold) == (
        20,
        0,
        20,
        12,
    )
    assert StockMovement.objects.count() == before_movements


def test_saving_a_level_in_admin_keeps_a_stock_change_committed_since_it_was_read(
    rf, admin_user, shop, verify_ledger_clean
):
    stale = StockLevel.objects.get(pk=shop["sheet_bal"].pk)
    receive_stock(variant=shop["sheet"], warehouse=shop["bal"], quantity=5, actor=SYSTEM)
    stale.low_stock_threshold = 7
    request = rf.post("/")
    request.user = admin_user

    site.get_model_admin(StockLevel).save_model(request, stale, form=None, change=True)

    level = StockLevel.objects.get(pk=stale.pk)
    assert (level.on_hand, level.available, level.low_stock_threshold) == (25, 25, 7)
    verify_ledger_clean()


def test_stock_level_change_form_offers_only_the_threshold_as_input(admin_client, shop):
    response = admin_client.get(level_url(shop["sheet_bal"]))

    assert list(response.context["adminform"].form.fields) == ["low_stock_threshold"]


@pytest.mark.parametrize("page", ["add", "delete"])
def test_stock_levels_cannot_be_added_or_deleted_by_hand(admin_client, shop, page):
    args = [] if page == "add" else [shop["sheet_bal"].pk]
    before = ledger_state()

    response = admin_client.get(reverse(f"admin:stock_stocklevel_{page}", args=args))

    assert response.status_code == 403
    assert ledger_state() == before


# --- Adjusting stock through the services -----------------------------------------------------


@pytest.mark.parametrize(
    ("form", "expected", "kind", "reason"),
    [
        (
            {"operation": "receive", "quantity": 5, "reason": ReasonCode.PURCHASE_ORDER},
            (25, 0, 0),
            MovementKind.RECEIPT,
            ReasonCode.PURCHASE_ORDER,
        ),
        (
            {"operation": "adjust", "quantity": -3, "reason": ReasonCode.LOST},
            (17, 0, 0),
            MovementKind.ADJUSTMENT,
            ReasonCode.LOST,
        ),
        (
            {"operation": "count", "quantity": 18, "reason": ReasonCode.CYCLE_COUNT},
            (18, 0, 0),
            MovementKind.COUNT,
            ReasonCode.CYCLE_COUNT,
        ),
        (
            {"operation": "mark_unsellable", "quantity": 2, "reason": ReasonCode.QUALITY_CONTROL},
            (20, 2, 0),
            MovementKind.DAMAGE,
            ReasonCode.QUALITY_CONTROL,
        ),
        (
            {"operation": "set_safety_stock", "quantity": 4, "reason": ReasonCode.SAFETY_STOCK},
            (20, 0, 4),
            MovementKind.ADJUSTMENT,
            ReasonCode.SAFETY_STOCK,
        ),
    ],
    ids=["receive", "adjust", "count", "mark-unsellable", "set-safety-stock"],
)
def test_adjust_view_applies_through_the_service_as_the_user_with_source_admin(
    admin_client, admin_user, shop, verify_ledger_clean, form, expected, kind, reason
):
    level = shop["sheet_bal"]

    response = admin_client.post(adjust_url(level), {**form, "note": "checked"}, follow=True)

    assert response.redirect_chain == [(level_url(level), 302)]
    level.refresh_from_db()
    assert (level.on_hand, level.unsellable, level.safety_stock) == expected
    movement = StockMovement.objects.filter(level=level).latest("id")
    assert (
        movement.source,
        movement.kind,
        movement.reason,
        movement.note,
        movement.actor_kind,
        movement.actor_user,
        movement.actor_label,
    ) == (MovementSource.ADMIN, kind, reason, "checked", "user", admin_user, "admin")
    assert messages_of(response) == [
        f"Recorded movement #{movement.pk} for SHEET-Q at BAL. Now on hand {level.on_hand}, "
        f"reserved 0, unsellable {level.unsellable}, safety stock {level.safety_stock}, "
        f"available {level.available}."
    ]
    verify_ledger_clean()


@pytest.mark.parametrize(
    ("operation", "reason", "expected"),
    [
        ("restore_sellable", ReasonCode.RESTORED, (20, 1)),
        ("write_off_unsellable", ReasonCode.WRITTEN_OFF, (18, 1)),
    ],
)
def test_adjust_view_restores_or_writes_off_unsellable_units(
    admin_client, shop, operation, reason, expected
):
    level = shop["sheet_bal"]
    mark_unsellable(variant=shop["sheet"], warehouse=shop["bal"], quantity=3, actor=SYSTEM)

    response = admin_client.post(
        adjust_url(level), {"operation": operation, "quantity": 2, "reason": reason}
    )

    assert response.status_code == 302
    level.refresh_from_db()
    assert (level.on_hand, level.unsellable) == expected
    movement = StockMovement.objects.filter(level=level).latest("id")
    assert (movement.source, movement.reason) == (MovementSource.ADMIN, reason)


def test_adjust_view_refuses_without_a_reason_and_writes_nothing(admin_client, shop):
    before = ledger_state()

    response = admin_client.post(
        adjust_url(shop["sheet_bal"]), {"operation": "adjust", "quantity": -3, "reason": ""}
    )

    assert response.status_code == 200
    assert response.context["form"].errors == {"reason": ["This field is required."]}
    assert ledger_state() == before


def test_adjust_view_shows_insufficient_stock_next_to_the_quantity_and_writes_nothing(
    admin_client, shop
):
    before = ledger_state()

    response = admin_client.post(
        adjust_url(shop["sheet_bal"]),
        {"operation": "adjust", "quantity": -21, "reason": ReasonCode.LOST},
    )

    assert response.status_code == 200
    assert response.context["form"].errors == {
        "quantity": ["SHEET-Q at BAL: only 20 on hand, short by 1."]
    }
    assert "SHEET-Q at BAL: only 20 on hand, short by 1." in response.content.decode()
    assert ledger_state() == before


def test_adjust_view_refuses_when_on_hand_is_not_the_expected_figure(admin_client, shop):
    before = ledger_state()

    response = admin_client.post(
        adjust_url(shop["sheet_bal"]),
        {"operation": "count", "quantity": 15, "reason": "stocktake", "expected_on_hand": 19},
    )

    assert response.context["form"].errors == {
        "expected_on_hand": ["SHEET-Q at BAL has 20 on hand, not the expected 19."]
    }
    assert ledger_state() == before


def test_adjust_view_shows_an_inactive_warehouse_as_a_form_error(admin_client, shop):
    shop["bal"].is_active = False
    shop["bal"].save()
    before = ledger_state()

    response = admin_client.post(
        adjust_url(shop["sheet_bal"]),
        {"operation": "receive", "quantity": 1, "reason": ReasonCode.FOUND},
    )

    assert response.context["form"].non_field_errors() == [
        "Warehouse BAL is inactive: it takes no receipt."
    ]
    assert ledger_state() == before


@pytest.mark.parametrize(
    ("form", "errors"),
    [
        (
            {"operation": "adjust", "quantity": 0, "reason": "lost"},
            {"quantity": ["An adjustment must not be zero."]},
        ),
        (
            {"operation": "receive", "quantity": -4, "reason": "found"},
            {"quantity": ["This quantity must be at least 1."]},
        ),
        (
            {"operation": "count", "quantity": -1, "reason": "stocktake"},
            {"quantity": ["This quantity must not be negative."]},
        ),
        (
            {"operation": "restore_sellable", "quantity": 1, "reason": "found"},
            {
                "reason": [
                    "Restore unsellable units to sellable is always recorded as "
                    "“Returned to sellable”; choose that reason."
                ]
            },
        ),
        (
            {"operation": "receive", "quantity": 1, "reason": "other"},
            {"note": ["Explain the reason “Other” in the note."]},
        ),
        (
            {"operation": "receive", "quantity": 1, "reason": "found", "expected_on_hand": 20},
            {"expected_on_hand": ["Only an adjustment or a count can check this."]},
        ),
        (
            {"operation": "adjust", "quantity": "2.5", "reason": "lost"},
            {"quantity": ["Enter a whole number."]},
        ),
        (
            {"operation": "adjust", "quantity": 1, "reason": "guess"},
            {"reason": ["Select a valid choice. guess is not one of the available choices."]},
        ),
    ],
)
def test_adjust_view_refuses_bad_input_and_writes_nothing(admin_client, shop, form, errors):
    before = ledger_state()

    response = admin_client.post(adjust_url(shop["sheet_bal"]), form)

    assert response.context["form"].errors == errors
    assert ledger_state() == before


def test_adjust_page_shows_the_current_balance(admin_client, shop):
    response = admin_client.get(adjust_url(shop["sheet_aus"]))

    assert response.status_code == 200
    html = response.content.decode()
    assert "<td>3</td><td>0</td><td>0</td>" in html
    assert "<td>Low stock</td>" in html


def test_stock_level_change_page_links_to_the_adjust_page(admin_client, shop):
    response = admin_client.get(level_url(shop["sheet_bal"]))

    assert f'href="{adjust_url(shop["sheet_bal"])}"' in response.content.decode()


def test_adjust_action_opens_the_adjust_page_for_one_selected_level(admin_client, shop):
    response = admin_client.post(
        reverse(CHANGELIST),
        {"action": "adjust_selected", ACTION_CHECKBOX_NAME: [shop["sheet_aus"].pk]},
    )

    assert response.status_code == 302
    assert response.url == adjust_url(shop["sheet_aus"])


def test_adjust_action_asks_for_exactly_one_level(admin_client, shop):
    response = admin_client.post(
        reverse(CHANGELIST),
        {
            "action": "adjust_selected",
            ACTION_CHECKBOX_NAME: [shop["sheet_aus"].pk, shop["sheet_bal"].pk],
        },
        follow=True,
    )

    assert messages_of(response) == ["Select exactly one stock level to adjust."]


def test_staff_without_change_permission_cannot_adjust(client, shop):
    viewer = User.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_stocklevel"))
    client.force_login(viewer)
    before = ledger_state()

    page = client.get(adjust_url(shop["sheet_bal"]))
    post = client.post(
        adjust_url(shop["sheet_bal"]),
        {"operation": "receive", "quantity": 1, "reason": ReasonCode.FOUND},
    )
    changelist = client.get(reverse(CHANGELIST))

    assert (page.status_code, post.status_code, changelist.status_code) == (403, 403, 200)
    assert ledger_state() == before


# --- The ledger and the snapshots are read-only ----------------------------------------------


def test_ledger_change_page_is_view_only(admin_client, shop):
    movement = StockMovement.objects.filter(level=shop["sheet_bal"]).get()

    response = admin_client.get(reverse("admin:stock_stockmovement_change", args=[movement.pk]))

    assert response.status_code == 200
    assert response.context["has_change_permission"] is False
    assert 'name="_save"' not in response.content.decode()


@pytest.mark.parametrize(
    ("page", "method"),
    [("change", "post"), ("delete", "get"), ("delete", "post"), ("add", "get"), ("add", "post")],
)
def test_ledger_rows_cannot_be_changed_added_or_deleted_in_admin(admin_client, shop, page, method):
    movement = StockMovement.objects.filter(level=shop["sheet_bal"]).get()
    args = [] if page == "add" else [movement.pk]
    before = ledger_state()

    response = getattr(admin_client, method)(
        reverse(f"admin:stock_stockmovement_{page}", args=args),
        {"delta_on_hand": 100, "note": "edited", "post": "yes"},
    )

    assert response.status_code == 403
    assert ledger_state() == before
    movement.refresh_from_db()
    assert (movement.delta_on_hand, movement.note) == (20, "")


def test_ledger_changelist_offers_no_actions(admin_client, shop):
    response = admin_client.get(reverse("admin:stock_stockmovement_changelist"))

    assert response.context["action_form"] is None
    assert 'href="/admin/stock/stockmovement/add/"' not in response.content.decode()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"kind__exact": MovementKind.ADJUSTMENT}, [("PILLOW", "lost"), ("TOWEL-B", "lost")]),
        ({"reason__exact": ReasonCode.LOST}, [("PILLOW", "lost"), ("TOWEL-B", "lost")]),
        ({"source__exact": MovementSource.ADMIN}, []),
        ({"q": "PILLOW"}, [("PILLOW", "lost"), ("PILLOW", "purchase_order")]),
        ({"q": "towel"}, [("TOWEL-B", "lost"), ("TOWEL-B", "purchase_order")]),
    ],
)
def test_ledger_changelist_filters_and_searches(admin_client, shop, query, expected):
    response = admin_client.get(reverse("admin:stock_stockmovement_changelist"), query)

    assert response.status_code == 200
    assert sorted((m.variant.sku, m.reason) for m in response.context["cl"].result_list) == expected


def test_ledger_changelist_filters_by_warehouse_channel_and_level(admin_client, shop):
    url = reverse("admin:stock_stockmovement_changelist")

    by_warehouse = admin_client.get(url, {"warehouse__id__exact": shop["aus"].pk})
    by_channel = admin_client.get(url, {"channel": shop["north"].pk})
    by_level = admin_client.get(url, {"level__id__exact": shop["towel_bal"].pk})

    def deltas(response) -> list[tuple[str, int]]:
        return [(m.variant.sku, m.delta_on_hand) for m in response.context["cl"].result_list]

    assert deltas(by_warehouse) == [("PILLOW", -1), ("PILLOW", 1), ("SHEET-Q", 3)]
    assert deltas(by_channel) == [("TOWEL-B", -2), ("TOWEL-B", 2), ("SHEET-Q", 20)]
    assert deltas(by_level) == [("TOWEL-B", -2), ("TOWEL-B", 2)]


def test_snapshots_are_view_only_and_filter_by_warehouse_and_channel(admin_client, shop):
    for level in (shop["sheet_bal"], shop["sheet_aus"]):
        DailyStockSnapshot.objects.create(
            level=level,
            day=datetime.date(2025, 1, 1),
            on_hand=level.on_hand,
            reserved=0,
            unsellable=0,
            safety_stock=0,
            inbound=0,
        )
    snapshot = DailyStockSnapshot.objects.get(level=shop["sheet_bal"])
    url = reverse("admin:stock_dailystocksnapshot_changelist")

    by_warehouse = admin_client.get(url, {"level__warehouse__id__exact": shop["aus"].pk})
    by_channel = admin_client.get(url, {"channel": shop["north"].pk})
    add = admin_client.get(reverse("admin:stock_dailystocksnapshot_add"))
    change = admin_client.post(
        reverse("admin:stock_dailystocksnapshot_change", args=[snapshot.pk]), {"on_hand": 1}
    )
    delete = admin_client.post(
        reverse("admin:stock_dailystocksnapshot_delete", args=[snapshot.pk]), {"post": "yes"}
    )

    assert [s.level_id for s in by_warehouse.context["cl"].result_list] == [shop["sheet_aus"].pk]
    assert [s.level_id for s in by_channel.context["cl"].result_list] == [shop["sheet_bal"].pk]
    assert (add.status_code, change.status_code, delete.status_code) == (403, 403, 403)
    snapshot.refresh_from_db()
    assert snapshot.on_hand == 20


# --- Catalogue ---------------------------------------------------------------------------------


def test_product_changelist_counts_variants_and_finds_a_product_by_sku(admin_client, shop):
    VariantFactory(sku="SHEET-K", product=shop["sheet"].product)

    response = admin_client.get(reverse("admin:stock_product_changelist"), {"q": "SHEET-K"})

    assert [(p.name, p.variant_total) for p in response.context["cl"].result_list] == [
        ("Percale sheet", 2)
    ]


def test_product_page_lists_its_variants_read_only(admin_client, shop):
    response = admin_client.get(
        reverse("admin:stock_product_change", args=[shop["sheet"].product_id])
    )

    (inline,) = response.context["inline_admin_formsets"]
    assert inline.has_change_permission is False
    assert [form.instance.sku for form in inline.formset.forms] == ["SHEET-Q"]
    assert reverse("admin:stock_variant_change", args=[shop["sheet"].pk]) in (
        response.content.decode()
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"backorders__exact": BackorderPolicy.ALLOW}, ["TOWEL-B"]),
        ({"q": "pillow"}, ["PILLOW"]),
        ({"forced": "yes"}, ["SHEET-Q"]),
        ({"forced": "no"}, ["PILLOW", "TOWEL-B"]),
        ({"is_active__exact": "1"}, ["PILLOW", "SHEET-Q", "TOWEL-B"]),
    ],
)
def test_variant_changelist_filters_and_searches(admin_client, shop, query, expected):
    force_status(variant=shop["sheet"], status="in_stock", reason="promo", actor=SYSTEM)

    response = admin_client.get(reverse("admin:stock_variant_changelist"), query)

    assert [variant.sku for variant in response.context["cl"].result_list] == expected


def test_product_autocomplete_serves_the_variant_form(admin_client, shop):
    response = admin_client.get(
        reverse("admin:autocomplete"),
        {"app_label": "stock", "model_name": "variant", "field_name": "product", "term": "perc"},
    )

    assert [item["text"] for item in response.json()["results"]] == ["Percale sheet"]


def test_variant_can_be_created_in_admin(admin_client, shop):
    response = admin_client.post(
        reverse("admin:stock_variant_add"),
        {
            "product": shop["sheet"].product_id,
            "sku": "SHEET-K",
            "attributes": '{"size": "king"}',
            "barcode": "",
            "is_active": "on",
            "manage_stock": "on",
            "backorders": BackorderPolicy.DENY,
            "low_stock_threshold": 4,
            "levels-TOTAL_FORMS": 0,
            "levels-INITIAL_FORMS": 0,
        },
    )

    assert response.status_code == 302
    assert Variant.objects.get(sku="SHEET-K").attributes == {"size": "king"}


def test_changing_the_backorder_policy_in_admin_updates_every_level(admin_client, shop):
    url = reverse("admin:stock_variant_change", args=[shop["sheet"].pk])
    data = change_form_data(admin_client.get(url))
    data["backorders"] = BackorderPolicy.ALLOW_AND_NOTIFY
    before = StockMovement.objects.count()

    response = admin_client.post(url, data)

    assert response.status_code == 302
    assert Variant.objects.get(pk=shop["sheet"].pk).backorders == BackorderPolicy.ALLOW_AND_NOTIFY
    assert set(
        StockLevel.objects.filter(variant=shop["sheet"]).values_list(
            "is_backorder_allowed", flat=True
        )
    ) == {True}
    assert StockMovement.objects.count() == before


def test_denying_backorders_while_backordered_is_refused_and_nothing_is_saved(admin_client, shop):
    # TOWEL-B at BAL has 0 on hand; 2 units of safety stock put it at -2 available.
    set_safety_stock(variant=shop["towel"], warehouse=shop["bal"], quantity=2, actor=SYSTEM)
    url = reverse("admin:stock_variant_change", args=[shop["towel"].pk])
    data = change_form_data(admin_client.get(url))
    data.update({"backorders": BackorderPolicy.DENY, "low_stock_threshold": 9})

    response = admin_client.post(url, data, follow=True)

    assert response.redirect_chain == [(url, 302)]
    assert messages_of(response) == [
        "Nothing was saved: TOWEL-B is backordered at BAL; receive stock or cancel those "
        "orders before denying backorders."
    ]
    towel = Variant.objects.get(pk=shop["towel"].pk)
    assert (towel.backorders, towel.low_stock_threshold) == (BackorderPolicy.ALLOW, 5)
    assert StockLevel.objects.get(pk=shop["towel_bal"].pk).is_backorder_allowed is True


def test_the_unit_cost_is_edited_in_admin_through_update_variant(admin_client, shop, monkeypatch):
    from stock.admin import catalogue

    written = []
    real_update = catalogue.update_variant
    monkeypatch.setattr(
        catalogue,
        "update_variant",
        lambda **kwargs: written.append(sorted(kwargs)) or real_update(**kwargs),
    )
    url = reverse("admin:stock_variant_change", args=[shop["sheet"].pk])
    data = change_form_data(admin_client.get(url))

    response = admin_client.post(url, data | {"unit_cost": "12.40"})
    refused = admin_client.post(url, data | {"unit_cost": "-1"})

    assert response.status_code == 302
    assert len(written) == 1 and {"unit_cost", "variant"} <= set(written[0])
    assert refused.status_code == 200 and list(refused.context["adminform"].form.errors) == [
        "unit_cost"
    ]
    assert Variant.objects.get(pk=shop["sheet"].pk).unit_cost == Decimal("12.40")


def test_saving_a_variant_in_admin_keeps_a_policy_changed_since_it_was_read(rf, admin_user, shop):
    model_admin = site.get_model_admin(Variant)
    request = rf.post("/")
    request.user = admin_user
    stale = Variant.objects.get(pk=shop["sheet"].pk)
    set_backorder_policy(variant=shop["sheet"], policy=BackorderPolicy.ALLOW)
    form = model_admin.get_form(request, stale)(
        {
            "product": stale.product_id,
            "sku": stale.sku,
            "attributes": '{"size": "queen"}',
            "is_active": "on",
            "manage_stock": "on",
            "backorders": BackorderPolicy.DENY,
            "low_stock_threshold": 9,
        },
        instance=stale,
    )
    assert form.is_valid(), form.errors

    model_admin.save_model(request, form.save(commit=False), form, change=True)

    variant = Variant.objects.get(pk=stale.pk)
    assert (variant.backorders, variant.low_stock_threshold, variant.attributes) == (
        BackorderPolicy.ALLOW,
        9,
        {"size": "queen"},
    )
    assert set(
        StockLevel.objects.filter(variant=variant).values_list("is_backorder_allowed", flat=True)
    ) == {True}


@pytest.mark.parametrize("model", ["product", "variant"])
def test_catalogue_rows_are_deactivated_not_deleted(admin_client, shop, model):
    obj = shop["sheet"] if model == "variant" else shop["sheet"].product

    delete = admin_client.get(reverse(f"admin:stock_{model}_delete", args=[obj.pk]))
    admin_client.post(
        reverse(f"admin:stock_{model}_changelist"),
        {"action": "deactivate", ACTION_CHECKBOX_NAME: [obj.pk]},
    )

    assert delete.status_code == 403
    obj.refresh_from_db()
    assert obj.is_active is False


# --- Forced status from the variant page ------------------------------------------------------


def test_force_status_view_forces_through_the_service_as_the_user(admin_client, admin_user, shop):
    url = reverse("admin:stock_variant_force_status", args=[shop["sheet"].pk])

    response = admin_client.post(
        url,
        {"status": "out_of_stock", "channel": shop["north"].pk, "reason": "supplier recall"},
        follow=True,
    )

    forced = ForcedStatus.objects.get()
    assert (
        forced.variant,
        forced.channel,
        forced.status,
        forced.reason,
        forced.actor_user,
        forced.ended_at,
    ) == (shop["sheet"], shop["north"], "out_of_stock", "supplier recall", admin_user, None)
    assert messages_of(response) == ["SHEET-Q is forced out of stock on north."]


def test_force_status_view_refuses_without_a_reason(admin_client, shop):
    url = reverse("admin:stock_variant_force_status", args=[shop["sheet"].pk])

    response = admin_client.post(url, {"status": "in_stock", "reason": "  "})

    assert response.status_code == 200
    assert response.context["form"].errors == {"reason": ["This field is required."]}
    assert ForcedStatus.objects.count() == 0


def test_force_status_view_shows_the_services_refusal_of_a_past_expiry(admin_client, shop):
    url = reverse("admin:stock_variant_force_status", args=[shop["sheet"].pk])

    response = admin_client.post(
        url,
        {
            "status": "in_stock",
            "reason": "promo",
            "expires_at_0": "2001-01-01",
            "expires_at_1": "00:00:00",
        },
    )

    assert response.context["form"].errors == {"expires_at": ["The expiry must be in the future."]}
    assert ForcedStatus.objects.count() == 0


def test_clear_status_view_ends_the_chosen_override(admin_client, shop):
    force_status(variant=shop["sheet"], status="in_stock", reason="promo", actor=SYSTEM)
    on_north = force_status(
        variant=shop["sheet"],
        status="out_of_stock",
        reason="x",
        channel=shop["north"],
        actor=SYSTEM,
    )
    url = reverse("admin:stock_variant_clear_status", args=[shop["sheet"].pk])

    response = admin_client.post(
        url, {"scope": str(shop["north"].pk), "reason": "back in stock"}, follow=True
    )

    on_north.refresh_from_db()
    assert (on_north.ended_at is not None, on_north.ended_by) == (True, "admin")
    assert on_north.end_reason == "back in stock"
    assert ForcedStatus.objects.filter(ended_at__isnull=True).get().channel is None
    assert messages_of(response) == ["Ended the forced status of SHEET-Q on north."]


def test_clear_status_view_asks_for_a_reason_and_ends_nothing_without_one(admin_client, shop):
    force_status(variant=shop["sheet"], status="in_stock", reason="promo", actor=SYSTEM)
    url = reverse("admin:stock_variant_clear_status", args=[shop["sheet"].pk])

    response = admin_client.post(url, {"scope": "all", "reason": "  "})

    assert response.status_code == 200
    assert response.context["form"].errors == {"reason": ["This field is required."]}
    assert ForcedStatus.objects.get().ended_at is None


def test_clear_status_view_ends_the_override_of_every_channel(admin_client, shop):
    force_status(variant=shop["sheet"], status="in_stock", reason="promo", actor=SYSTEM)
    url = reverse("admin:stock_variant_clear_status", args=[shop["sheet"].pk])

    response = admin_client.post(url, {"scope": "all", "reason": "promo over"}, follow=True)

    ended = ForcedStatus.objects.get()
    assert (ended.ended_at is not None, ended.end_reason) == (True, "promo over")
    assert messages_of(response) == ["Ended the forced status of SHEET-Q on all channels."]


def test_force_status_action_opens_the_form_for_one_variant(admin_client, shop):
    response = admin_client.post(
        reverse("admin:stock_variant_changelist"),
        {"action": "force_status_selected", ACTION_CHECKBOX_NAME: [shop["towel"].pk]},
    )

    assert response.url == reverse("admin:stock_variant_force_status", args=[shop["towel"].pk])


def test_forced_statuses_are_read_only_and_filter_by_open(admin_client, shop):
    force_status(variant=shop["sheet"], status="in_stock", reason="promo", actor=SYSTEM)
    force_status(variant=shop["sheet"], status="out_of_stock", reason="recall", actor=SYSTEM)
    url = reverse("admin:stock_forcedstatus_changelist")

    open_ones = admin_client.get(url, {"override": "open"})
    ended = admin_client.get(url, {"override": "ended"})
    add = admin_client.get(reverse("admin:stock_forcedstatus_add"))

    assert [f.reason for f in open_ones.context["cl"].result_list] == ["recall"]
    assert [f.reason for f in ended.context["cl"].result_list] == ["promo"]
    assert add.status_code == 403


# --- CSV export --------------------------------------------------------------------------------


def test_export_action_streams_the_selected_levels(admin_client, shop):
    response = admin_client.post(
        reverse(CHANGELIST),
        {
            "action": "export_selected",
            ACTION_CHECKBOX_NAME: [shop["sheet_aus"].pk, shop["towel_bal"].pk],
        },
    )

    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="stock-levels-')
    assert streamed(response) == (
        HEADER
        + "SHEET-Q,Percale sheet,AUS,3,0,0,0,0,3,low_stock,5,\r\n"
        + "TOWEL-B,Bath towel,BAL,0,0,0,0,0,0,backorder,5,\r\n"
    )


def test_export_of_all_matching_follows_the_changelist_filters(admin_client, shop):
    changelist = admin_client.get(reverse(CHANGELIST), {"below_threshold": "yes", "q": "sheet"})
    export_url = reverse("admin:stock_stocklevel_export") + "?below_threshold=yes&amp;q=sheet"
    assert f'href="{export_url}"' in changelist.content.decode()

    response = admin_client.get(
        reverse("admin:stock_stocklevel_export"), {"below_threshold": "yes", "q": "sheet"}
    )

    assert streamed(response) == HEADER + "SHEET-Q,Percale sheet,AUS,3,0,0,0,0,3,low_stock,5,\r\n"


def test_export_of_all_without_filters_lists_every_level(admin_client, shop):
    response = admin_client.get(reverse("admin:stock_stocklevel_export"))

    assert streamed(response) == (
        HEADER
        + "PILLOW,Down pillow,AUS,0,0,0,0,0,0,out_of_stock,5,\r\n"
        + "SHEET-Q,Percale sheet,AUS,3,0,0,0,0,3,low_stock,5,\r\n"
        + "SHEET-Q,Percale sheet,BAL,20,0,0,0,0,20,in_stock,5,\r\n"
        + "TOWEL-B,Bath towel,BAL,0,0,0,0,0,0,backorder,5,\r\n"
    )


def test_export_under_asgi_streams_an_async_iterator_with_the_same_content(shop):
    request = AsyncRequestFactory().get("/admin/stock/stocklevel/export/")
    queryset = StockLevel.objects.all()

    response = csv_download(request, queryset)

    async def read_all() -> bytes:
        return b"".join([chunk async for chunk in response])

    assert response.is_async is True
    assert async_to_sync(read_all)().decode() == "".join(export_csv_chunks(queryset))


# --- CSV import page ---------------------------------------------------------------------------


def upload(admin_client, content: bytes, name: str = "count.csv", **extra):
    return admin_client.post(
        reverse("admin:stock_stocklevel_import_counts"),
        {"file": SimpleUploadedFile(name, content, content_type="text/csv"), **extra},
    )


def test_import_page_is_linked_from_the_changelist_and_loads(admin_client, shop):
    changelist = admin_client.get(reverse(CHANGELIST))
    page = admin_client.get(reverse("admin:stock_stocklevel_import_counts"))

    assert reverse("admin:stock_stocklevel_import_counts") in changelist.content.decode()
    assert page.status_code == 200


def test_import_page_applies_a_clean_file_as_the_user(admin_client, admin_user, shop):
    content = b"sku,warehouse,counted\nSHEET-Q,BAL,18\nSHEET-Q,AUS,3\n"

    response = upload(admin_client, content)

    report = response.context["report"]
    assert (report.rows, report.applied, report.unchanged, report.replayed, report.errors) == (
        2,
        1,
        1,
        0,
        [],
    )
    html = response.content.decode()
    assert "<li>Applied: 1</li>" in html
    assert "<li>Unchanged (count equal to the balance): 1</li>" in html
    movement = StockMovement.objects.get(source=MovementSource.CSV)
    sha = hashlib.sha256(content).hexdigest()
    assert (movement.delta_on_hand, movement.actor_user, movement.reference) == (
        -2,
        admin_user,
        f"{sha}:2",
    )


def test_import_page_lists_each_bad_line_and_applies_nothing(admin_client, shop):
    before = ledger_state()

    response = upload(
        admin_client, b"sku,warehouse,counted\nSHEET-Q,BAL,18\nNOPE,BAL,1\nSHEET-Q,AUS,-1\n"
    )

    html = response.content.decode()
    assert "2 problems found: nothing was applied." in html
    assert "<tr><td>3</td><td>sku</td><td>Unknown SKU &#x27;NOPE&#x27;.</td></tr>" in html
    assert (
        "<tr><td>4</td><td>counted</td><td>counted must not be negative, got -1.</td></tr>" in html
    )
    assert ledger_state() == before


def test_import_page_names_the_line_and_column_of_a_nul_byte_and_applies_nothing(
    admin_client, shop
):
    before = ledger_state()

    response = upload(admin_client, b"sku,warehouse,counted\nSHEET-Q,BAL,18\nSHEET-Q,A\x00US,3\n")

    assert response.status_code == 200
    html = response.content.decode()
    assert "1 problem found: nothing was applied." in html
    assert (
        "<tr><td>3</td><td>warehouse</td><td>Contains a NUL character (byte 0x00); remove it "
        "and upload the file again.</td></tr>" in html
    )
    assert ledger_state() == before


def test_import_page_twice_with_the_same_file_changes_nothing_the_second_time(admin_client, shop):
    content = b"sku,warehouse,counted\nSHEET-Q,BAL,18\nPILLOW,AUS,4\n"
    upload(admin_client, content)
    after_first = ledger_state()

    response = upload(admin_client, content, name="count (1).csv")

    report = response.context["report"]
    assert (report.applied, report.replayed) == (0, 2)
    assert ledger_state() == after_first


def test_import_page_check_only_applies_nothing(admin_client, shop):
    before = ledger_state()

    response = upload(admin_client, b"sku,warehouse,counted\nSHEET-Q,BAL,1\n", check_only="on")

    assert "All 1 rows are fine. Nothing was applied" in response.content.decode()
    assert ledger_state() == before


def test_import_page_refuses_a_count_on_an_inactive_warehouse(admin_client, shop):
    shop["aus"].is_active = False
    shop["aus"].save()
    before = ledger_state()

    response = upload(admin_client, b"sku,warehouse,counted\nSHEET-Q,BAL,1\nSHEET-Q,AUS,1\n")

    assert [(e.line, e.message) for e in response.context["report"].errors] == [
        (3, "Warehouse AUS is inactive: it takes no counts.")
    ]
    assert ledger_state() == before
