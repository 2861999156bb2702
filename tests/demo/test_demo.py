"""`manage.py load_demo` and `manage.py ensure_demo_admin`.

The demo is loaded once for this module, inside a transaction rolled back at the end
(each test still runs in its own savepoint): a load writes ~15,000 ledger rows and
~90,000 snapshots, too many to repeat per test. The tests that need an empty database
come first and check that it is.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import Max, Min, Sum

from demo import history as demo_history
from demo.history import HISTORY_DAYS
from demo.loading import DEMO_SEED, load_demo
from stock.models import (
    BackorderPolicy,
    DailyStockSnapshot,
    MovementKind,
    MovementSource,
    ReasonCode,
    StockLevel,
    StockMovement,
    Variant,
)
from stock.services.history import utc_today
from transfers.models import Lane, Transfer, TransferLine, TransferReceiptLine, TransferState
from transfers.selectors import is_late, transfers_list
from warehouses.models import ChannelWarehouse, SalesChannel, Warehouse

WAREHOUSE_CODES = ["AUS", "BAL", "BER", "FRA", "HQ", "RNO"]


def table_counts() -> dict[str, int]:
    return {model._meta.label: model.objects.count() for model in apps.get_models()}


def quiet(_message: str) -> None:
    pass


# --- Before any demo is loaded --------------------------------------------------------------


@pytest.mark.django_db
def test_an_interrupted_load_leaves_nothing_behind(monkeypatch):
    assert Warehouse.objects.count() == 0, "runs before the module's demo fixture"
    real_apply = demo_history.apply_changes
    days = []

    def fail_on_the_third_day(changes, **kwargs):
        days.append(kwargs["occurred_at"])
        if len(days) == 3:
            raise RuntimeError("worker killed")
        return real_apply(changes, **kwargs)

    monkeypatch.setattr(demo_history, "apply_changes", fail_on_the_third_day)

    with pytest.raises(RuntimeError, match="worker killed"):
        load_demo(log=quiet)

    assert len(days) == 3
    assert {
        label: count
        for label, count in table_counts().items()
        if label.startswith(("warehouses.", "stock.")) and count
    } == {}


@pytest.mark.django_db
def test_the_same_seed_and_day_plan_the_same_history(monkeypatch):
    assert Warehouse.objects.count() == 0, "runs before the module's demo fixture"
    planned: list[list[tuple]] = [[], []]
    run = [0]

    def record(changes, **kwargs):
        planned[run[0]].extend(
            (
                change.variant.sku,
                change.warehouse.code,
                change.reference,
                change.kind,
                change.delta_on_hand,
                change.delta_unsellable,
                change.delta_inbound,
                change.count,
                change.safety_stock_target,
                kwargs["occurred_at"],
            )
            for change in changes
        )
        return []

    monkeypatch.setattr(demo_history, "apply_changes", record)
    today = utc_today()

    load_demo(today=today, seed=DEMO_SEED, log=quiet)
    run[0] = 1
    load_demo(today=today, seed=DEMO_SEED, log=quiet)

    assert len(planned[0]) > 10_000
    assert planned[1] == planned[0]


# --- ensure_demo_admin ----------------------------------------------------------------------


@pytest.mark.django_db
def test_ensure_demo_admin_creates_a_superuser_with_the_password_from_the_environment(
    monkeypatch, capsys
):
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", "linen-cupboard")

    call_command("ensure_demo_admin")

    admin = get_user_model().objects.get(username="admin")
    assert (admin.is_superuser, admin.is_staff, admin.is_active) == (True, True, True)
    assert admin.check_password("linen-cupboard")
    output = capsys.readouterr().out
    assert "LOCAL DEMO ONLY: log in at http://127.0.0.1:" in output
    assert "/admin/ as 'admin' with password 'linen-cupboard'" in output


@pytest.mark.django_db
def test_ensure_demo_admin_defaults_to_admin_admin(monkeypatch, settings, capsys):
    monkeypatch.delenv("DEMO_ADMIN_PASSWORD", raising=False)
    settings.PORT = 8123

    call_command("ensure_demo_admin")

    assert get_user_model().objects.get(username="admin").check_password("admin")
    assert (
        "log in at http://127.0.0.1:8123/admin/ as 'admin' with password 'admin'"
        in capsys.readouterr().out
    )


@pytest.mark.django_db
def test_ensure_demo_admin_twice_keeps_one_user_and_its_password(monkeypatch):
    monkeypatch.delenv("DEMO_ADMIN_PASSWORD", raising=False)
    call_command("ensure_demo_admin")
    before = get_user_model().objects.values_list("pk", "password", "last_login").get()

    call_command("ensure_demo_admin")

    assert get_user_model().objects.values_list("pk", "password", "last_login").get() == before


@pytest.mark.django_db
def test_ensure_demo_admin_never_resets_a_changed_password(monkeypatch, capsys):
    monkeypatch.delenv("DEMO_ADMIN_PASSWORD", raising=False)
    call_command("ensure_demo_admin")
    admin = get_user_model().objects.get(username="admin")
    admin.set_password("changed-by-the-operator")
    admin.save()
    capsys.readouterr()

    call_command("ensure_demo_admin")

    admin.refresh_from_db()
    assert admin.check_password("changed-by-the-operator")
    assert not admin.check_password("admin")
    output = capsys.readouterr().out
    assert "as 'admin' with the password you set" in output
    assert "changed-by-the-operator" not in output


# --- The loaded demo ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            summary = load_demo(log=quiet)
            # Fire the deferred foreign-key checks of ~110,000 new rows now, once: otherwise
            # every test's teardown (Django's check_constraints) fires them all again.
            connection.check_constraints()
            yield summary
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.mark.django_db
@pytest.mark.usefixtures("demo")
def test_demo_has_over_200_variants_with_size_colour_and_material():
    variants = list(Variant.objects.all())

    assert len(variants) >= 200
    assert all(set(variant.attributes) == {"size", "colour", "material"} for variant in variants)
    assert {variant.attributes["size"] for variant in variants} >= {
        "twin",
        "full",
        "queen",
        "king",
        "california king",
    }
    assert Variant.objects.get(sku="PCL-SHEET-Q-WHT").attributes == {
        "size": "queen",
        "colour": "white",
        "material": "cotton percale",
    }


@pytest.mark.django_db
@pytest.mark.usefixtures("demo")
def test_demo_barcodes_are_unique_valid_ean13():
    barcodes = list(Variant.objects.values_list("barcode", flat=True))

    assert len(set(barcodes)) == len(barcodes)
    for barcode in barcodes:
        digits = [int(d) for d in barcode]
        assert len(digits) == 13
        assert sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10 == 0


@pytest.mark.django_db
@pytest.mark.usefixtures("demo")
def test_demo_has_six_warehouses_with_places_and_time_zones():
    warehouses = {
        warehouse.code: warehouse
        for warehouse in Warehouse.objects.all()
        if warehouse.code in WAREHOUSE_CODES
    }

    assert sorted(warehouses) == WAREHOUSE_CODES
    assert {code: w.timezone for code, w in warehouses.items()} == {
        "AUS": "America/Chicago",
        "BAL": "America/New_York",
        "BER": "Europe/Berlin",
        "FRA": "Europe/Berlin",
        "HQ": "America/New_York",
        "RNO": "America/Los_Angeles",
    }
    assert all(w.has_coordinates and w.address and w.is_active for w in warehouses.values())
    assert (round(warehouses["BER"].latitude), round(warehouses["BER"].longitude)) == (52, 13)


@pytest.mark.django_db
@pytest.mark.usefixtures("demo")
def test_demo_channels_link_their_warehouses_with_the_stated_priorities():
    links = {
        channel.code: {
            link.warehouse.code: link.priority
            for link in ChannelWarehouse.objects.filter(channel=channel).select_related("warehouse")
        }
        for channel in SalesChannel.objects.all()
    }

    assert links == {
        "north-america": {"BAL": 1, "AUS": 2, "RNO": 3, "HQ": 4},
        "europe": {"BER": 1, "FRA": 2, "HQ": 3},
    }
    assert SalesChannel.objects.get(code="north-america").name == "North America"
    assert SalesChannel.objects.get(code="europe").name == "Europe"


@pytest.mark.django_db
@pytest.mark.usefixtures("demo")
def test_demo_has_stock_in_every_warehouse():
    stocked = dict(
        StockLevel.objects.values("warehouse__code")
        .annotate(on_hand=Sum("on_hand"))
        .values_list("warehouse__code", "on_hand")
    )

    assert sorted(stocked) == WAREHOUSE_CODES
    assert all(on_hand > 0 for on_hand in stocked.values()), stocked


@pytest.mark.django_db
@pytest.mark.usefixtures("demo")
def test_demo_variants_without_stock_management_have_no_levels_or_movements():
    unmanaged = Variant.objects.filter(manage_stock=False)

    assert unmanaged.count() >= 1
    assert StockLevel.objects.filter(variant__in=unmanaged).count() == 0
    assert StockMovement.objects.filter(variant__in=unmanaged).count() == 0


@pytest.mark.django_db
@pytest.mark.usefixtures("demo")
def test_demo_backorder_variants_carry_the_policy_onto_their_levels():
    allowing = Variant.objects.exclude(backorders=BackorderPolicy.DENY)

    assert allowing.count() >= 3
    assert set(
        StockLevel.objects.filter(variant__in=allowing).values_list(
            "is_backorder_allowed", flat=True
        )
    ) == {True}
    assert StockLevel.objects.filter(variant__in=allowing, available__lte=0).exists()


@pytest.mark.django_db
def test_demo_history_covers_the_last_90_days_by_occurred_at(demo):
    today = demo.today
    movements = StockMovement.objects.filter(source=MovementSource.DEMO)

    span = movements.aggregate(first=Min("occurred_at"), last=Max("occurred_at"))
    days = movements.dates("occurred_at", "day")

    assert span["first"].date() == today - timedelta(days=HISTORY_DAYS)
    assert span["last"].date() == today - timedelta(days=1)
    assert len(days) == HISTORY_DAYS
    assert demo.movements_written == movements.count() > 10_000


@pytest.mark.django_db
@pytest.mark.usefixtures("demo")
def test_demo_history_has_every_kind_of_everyday_movement():
    kinds = set(StockMovement.objects.values_list("kind", "reason").distinct())

    assert kinds >= {
        (MovementKind.IMPORT, ReasonCode.IMPORT),
        (MovementKind.RECEIPT, ReasonCode.PURCHASE_ORDER),
        (MovementKind.RECEIPT, ReasonCode.CUSTOMER_RETURN),
        (MovementKind.ADJUSTMENT, ReasonCode.ORDER),
        (MovementKind.ADJUSTMENT, ReasonCode.PURCHASE_ORDER),
        (MovementKind.ADJUSTMENT, ReasonCode.SAFETY_STOCK),
        (MovementKind.COUNT, ReasonCode.CYCLE_COUNT),
        (MovementKind.DAMAGE, ReasonCode.DAMAGED),
        (MovementKind.DAMAGE, ReasonCode.WRITTEN_OFF),
        (MovementKind.DAMAGE, ReasonCode.RESTORED),
    }
    assert StockLevel.objects.filter(inbound__gt=0).exists()
    assert StockLevel.objects.filter(safety_stock__gt=0).exists()


@pytest.mark.django_db
@pytest.mark.usefixtures("demo")
def test_demo_balances_agree_with_the_ledger(verify_ledger_clean):
    verify_ledger_clean()


# --- Lanes, unit costs and transfers ---------------------------------------------------------


@pytest.mark.django_db
def test_demo_has_a_transfer_in_every_state_and_a_late_one(demo):
    states = set(Transfer.objects.values_list("state", flat=True))
    sent_back = Transfer.objects.get(reference="DEMO-TR-009")
    late = [transfer.reference for transfer in transfers_list() if is_late(transfer)]

    assert states == set(TransferState.values)
    assert demo.transfers_created == Transfer.objects.count() == 10
    cancelled = Transfer.objects.filter(state=TransferState.CANCELLED).order_by("reference")
    assert [(t.reference, t.shipped_at is None) for t in cancelled] == [
        ("DEMO-TR-008", True),
        ("DEMO-TR-009", False),
    ]
    assert sent_back.lines.get().returned == sent_back.lines.get().shipped > 0
    assert late == ["DEMO-TR-010"]


@pytest.mark.django_db
@pytest.mark.usefixtures("demo")
def test_the_partial_receipt_rejects_a_damaged_unit_and_every_line_keeps_the_identity():
    partial = Transfer.objects.get(state=TransferState.PARTIALLY_RECEIVED)
    rejected = TransferReceiptLine.objects.filter(receipt__transfer=partial, rejected__gt=0)

    assert list(rejected.values_list("rejected", "rejection_reason", "rejected_disposition")) == [
        (1, "damaged", "unsellable")
    ]
    for line in TransferLine.objects.all():
        assert line.shipped + line.over_received == (
            line.in_transit + line.accepted + line.rejected + line.lost + line.returned
        )
        assert line.in_transit >= 0


@pytest.mark.django_db
@pytest.mark.usefixtures("demo")
def test_demo_transfers_are_written_through_the_ledger_and_verify_ledger_is_clean(capsys):
    on_the_road = sum(line.in_transit for line in TransferLine.objects.all())
    inbound_from_transfers = StockMovement.objects.filter(source=MovementSource.TRANSFER).aggregate(
        total=Sum("delta_inbound")
    )["total"]

    call_command("verify_ledger")

    assert on_the_road > 0
    # Units on the road are inbound at the destination, and units sent back at the source.
    returned = sum(line.returned for line in TransferLine.objects.all())
    assert inbound_from_transfers == on_the_road + returned
    assert "difference" not in capsys.readouterr().out.lower()


@pytest.mark.django_db
@pytest.mark.usefixtures("demo")
def test_demo_has_lanes_and_a_unit_cost_on_every_stocked_variant():
    routes = {
        f"{source}>{destination}": days
        for source, destination, days in Lane.objects.values_list(
            "source__code", "destination__code", "lead_time_days"
        )
    }

    assert len(routes) == 9 and routes["HQ>BAL"] == 0 and routes["BAL>BER"] == 12
    assert Lane.objects.filter(is_active=False).count() == 1
    assert not Variant.objects.filter(manage_stock=True, unit_cost__isnull=True).exists()
    assert Variant.objects.get(sku="PCL-SHEET-Q-WHT").unit_cost == Decimal("38.00")


@pytest.mark.django_db
def test_demo_snapshots_cover_every_level_and_close_today_on_the_live_balance(demo):
    today = demo.today
    levels = StockLevel.objects.count()
    todays = {
        row[0]: row[1:]
        for row in DailyStockSnapshot.objects.filter(day=today).values_list(
            "level_id", "on_hand", "reserved", "unsellable", "safety_stock", "inbound"
        )
    }
    live = {
        row[0]: row[1:]
        for row in StockLevel.objects.values_list(
            "pk", "on_hand", "reserved", "unsellable", "safety_stock", "inbound"
        )
    }

    assert (
        demo.snapshots_written == DailyStockSnapshot.objects.count() == levels * (HISTORY_DAYS + 1)
    )
    assert todays == live


@pytest.mark.django_db
def test_a_second_load_changes_nothing(demo):
    counts = table_counts()
    balances = list(StockLevel.objects.order_by("pk").values_list())
    snapshots = list(DailyStockSnapshot.objects.order_by("pk").values_list())
    catalogue = list(Variant.objects.order_by("pk").values_list())

    again = load_demo(log=quiet)

    assert table_counts() == counts
    assert list(StockLevel.objects.order_by("pk").values_list()) == balances
    assert list(DailyStockSnapshot.objects.order_by("pk").values_list()) == snapshots
    assert list(Variant.objects.order_by("pk").values_list()) == catalogue
    assert (again.variants_created, again.warehouses_created, again.history_loaded) == (
        0,
        0,
        False,
    )
    assert demo.history_loaded is True


@pytest.mark.django_db
@pytest.mark.usefixtures("demo")
def test_a_second_load_keeps_what_an_operator_changed():
    SalesChannel.objects.filter(code="europe").update(safety_buffer=9)
    Warehouse.objects.filter(code="HQ").update(name="Brooklyn showroom")

    load_demo(log=quiet)

    assert SalesChannel.objects.get(code="europe").safety_buffer == 9
    assert Warehouse.objects.get(code="HQ").name == "Brooklyn showroom"


@pytest.mark.django_db
@pytest.mark.usefixtures("demo")
def test_load_demo_command_says_what_it_did_on_a_second_run(capsys):
    call_command("load_demo")

    output = capsys.readouterr().out
    assert "Demo history already loaded: left as it is." in output
    assert "0 warehouses, 0 channels (0 warehouse links), 0 products, 0 variants created" in output
