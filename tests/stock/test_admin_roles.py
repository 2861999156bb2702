"""The stock admin as each role sees it: what is shown is what may be used."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from demo import catalogue as demo
from stock.csv_io import read_counts
from stock.models import StockMovement
from tests.stock import test_admin
from tests.stock.test_admin import CHANGELIST, adjust_url, level_url
from tests.stock.test_csv_io import fill_counted
from warehouses.access import Role

pytestmark = pytest.mark.django_db

shop = test_admin.shop


def admin_as(role: Role, *, warehouses=()) -> Client:
    user = get_user_model().objects.create_user(username=role.name.lower(), is_staff=True)
    user.groups.add(Group.objects.get(name=role.value))
    for warehouse in warehouses:
        warehouse.assigned_users.add(user)
    client = Client()
    client.force_login(user)
    return client


def adjust_links(html: str) -> int:
    return html.count(">Adjust…</a>")


def test_manager_sees_adjust_only_on_the_rows_of_their_warehouse(shop):
    manager = admin_as(Role.WAREHOUSE_MANAGER, warehouses=[shop["bal"]])

    bal = manager.get(reverse(CHANGELIST), {"warehouse__id__exact": shop["bal"].pk})
    aus = manager.get(reverse(CHANGELIST), {"warehouse__id__exact": shop["aus"].pk})

    assert (bal.status_code, aus.status_code) == (200, 200)
    assert adjust_links(bal.content.decode()) == 2
    assert adjust_links(aus.content.decode()) == 0
    assert 'id="import-counts"' in bal.content.decode()


def test_manager_adjusts_and_counts_at_their_warehouse_and_is_refused_elsewhere(shop):
    manager = admin_as(Role.WAREHOUSE_MANAGER, warehouses=[shop["bal"]])
    own, other = shop["sheet_bal"], shop["sheet_aus"]

    page = manager.get(adjust_url(own))
    adjusted = manager.post(
        adjust_url(own), {"operation": "adjust", "quantity": "-1", "reason": "damaged"}
    )
    counted = manager.post(
        adjust_url(own), {"operation": "count", "quantity": "15", "reason": "cycle_count"}
    )
    received = manager.post(
        adjust_url(own), {"operation": "receive", "quantity": "5", "reason": "purchase"}
    )
    elsewhere = manager.post(
        adjust_url(other), {"operation": "adjust", "quantity": "-1", "reason": "damaged"}
    )

    assert page.status_code == 200
    assert list(page.context["form"].fields["operation"].choices) == [
        ("adjust", "Adjust on hand by a delta (+ or -)"),
        ("count", "Count: set on hand to the counted quantity"),
    ]
    assert (adjusted.status_code, counted.status_code) == (302, 302)
    assert received.status_code == 200 and "operation" in received.context["form"].errors
    assert elsewhere.status_code == 403
    own.refresh_from_db()
    assert own.on_hand == 15
    by_manager = StockMovement.objects.filter(actor_label="warehouse_manager").order_by("pk")
    assert list(by_manager.values_list("warehouse__code", "delta_on_hand")) == [
        ("BAL", -1),
        ("BAL", -4),
    ]


def test_manager_change_page_offers_adjust_only_at_their_warehouse(shop):
    manager = admin_as(Role.WAREHOUSE_MANAGER, warehouses=[shop["bal"]])

    own = manager.get(level_url(shop["sheet_bal"])).content.decode()
    other = manager.get(level_url(shop["sheet_aus"])).content.decode()

    assert 'id="adjust-stock"' in own
    assert 'id="adjust-stock"' not in other


def test_manager_imports_counts_of_their_warehouse_only(shop):
    manager = admin_as(Role.WAREHOUSE_MANAGER, warehouses=[shop["bal"]])
    url = reverse("admin:stock_stocklevel_import_counts")

    refused = manager.post(
        url,
        {
            "file": SimpleUploadedFile(
                "c.csv", b"sku,warehouse,counted\nSHEET-Q,BAL,7\nSHEET-Q,AUS,1\n"
            )
        },
    )
    applied = manager.post(
        url, {"file": SimpleUploadedFile("c.csv", b"sku,warehouse,counted\nSHEET-Q,BAL,7\n")}
    )

    assert [(e.line, e.column) for e in refused.context["report"].errors] == [(3, "warehouse")]
    assert applied.context["report"].applied == 1
    shop["sheet_aus"].refresh_from_db()
    assert shop["sheet_aus"].on_hand == 3


@pytest.mark.parametrize("role", [Role.VIEWER, Role.WAREHOUSE_MANAGER])
def test_roles_without_a_warehouse_see_no_adjust_link_action_or_import(shop, role):
    client = admin_as(role)

    listing = client.get(reverse(CHANGELIST))
    html = listing.content.decode()
    change_page = client.get(level_url(shop["sheet_bal"])).content.decode()

    assert listing.status_code == 200
    assert adjust_links(html) == 0
    assert "adjust_selected" not in html
    assert 'id="import-counts"' not in html
    assert 'id="adjust-stock"' not in change_page
    assert client.get(adjust_url(shop["sheet_bal"])).status_code == 403
    assert client.get(reverse("admin:stock_stocklevel_import_counts")).status_code == 403


def test_ops_staff_see_adjust_on_every_row(shop):
    html = admin_as(Role.OPS_STAFF).get(reverse(CHANGELIST)).content.decode()

    assert adjust_links(html) == 4
    assert "adjust_selected" in html


def test_admin_export_edited_and_uploaded_back_as_counts_changes_only_the_counted_rows(shop):
    ops = admin_as(Role.OPS_STAFF)
    exported = b"".join(
        ops.get(reverse("admin:stock_stocklevel_export"), {"warehouse__id__exact": shop["bal"].pk})
    ).decode()
    edited = fill_counted(exported, {("SHEET-Q", "BAL"): "18"})

    response = ops.post(
        reverse("admin:stock_stocklevel_import_counts"),
        {"file": SimpleUploadedFile("levels.csv", edited.encode(), content_type="text/csv")},
    )

    report = response.context["report"]
    assert (report.errors, report.rows, report.applied) == ([], 1, 1)
    assert [(v.sku, v.warehouse, v.variance) for v in report.variances] == [("SHEET-Q", "BAL", -2)]
    shop["towel_bal"].refresh_from_db()
    assert shop["towel_bal"].on_hand == 0


def test_import_page_example_names_skus_and_warehouses_of_the_demo(shop):
    page = admin_as(Role.OPS_STAFF).get(reverse("admin:stock_stocklevel_import_counts"))
    example = re.search(r'<pre id="import-example">(.*?)</pre>', page.content.decode(), re.S)
    demo_skus = {
        f"{spec.code}-{size}-{colour}"
        for spec in demo.PRODUCTS
        for size in spec.sizes
        for colour in spec.colours
    }

    counts = read_counts(example.group(1).encode(), filename="example.csv")

    assert counts.errors == [] and len(counts.rows) == 2
    assert {row.sku for row in counts.rows} <= demo_skus
    assert {row.warehouse for row in counts.rows} <= {spec.code for spec in demo.WAREHOUSES}
