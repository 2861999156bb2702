"""Daily snapshots derived from the ledger, their refresh task and the chart selector."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.core.management import CommandError, call_command

from stock.models import DailyStockSnapshot, MovementKind, MovementSource, ReasonCode
from stock.selectors import HistoryPoint, stock_history
from stock.services import LevelChange, adjust_stock, apply_change, receive_stock
from stock.services.history import rebuild_snapshots, refresh_snapshots
from stock.tasks import snapshot_stock_task
from tests.stock.factories import SYSTEM, VariantFactory, set_clock
from tests.warehouses.factories import WarehouseFactory

pytestmark = pytest.mark.django_db

TODAY = date(2025, 3, 10)
NOW = datetime.combine(TODAY, time(12, 0), tzinfo=UTC)


def at(days_ago: int, hour: int = 10, minute: int = 0, second: int = 0, micro: int = 0):
    return datetime.combine(
        TODAY - timedelta(days=days_ago), time(hour, minute, second, micro), tzinfo=UTC
    )


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    set_clock(monkeypatch, NOW)


@pytest.fixture
def variant():
    return VariantFactory()


@pytest.fixture
def warehouse():
    return WarehouseFactory(code="BAL")


def receive(variant, warehouse, quantity: int, occurred_at: datetime):
    return receive_stock(
        variant=variant,
        warehouse=warehouse,
        quantity=quantity,
        actor=SYSTEM,
        occurred_at=occurred_at,
    ).level


def adjust(variant, warehouse, delta: int, occurred_at: datetime):
    return adjust_stock(
        variant=variant,
        warehouse=warehouse,
        delta=delta,
        reason=ReasonCode.ORDER,
        actor=SYSTEM,
        occurred_at=occurred_at,
    ).level


def damage(variant, warehouse, quantity: int, occurred_at: datetime):
    change = LevelChange(
        variant=variant,
        warehouse=warehouse,
        kind=MovementKind.DAMAGE,
        reason=ReasonCode.DAMAGED,
        delta_unsellable=quantity,
    )
    return apply_change(
        change, actor=SYSTEM, source=MovementSource.MANUAL, occurred_at=occurred_at
    ).level


def closes(level) -> list[tuple[date, int, int, int]]:
    """(day, on hand, unsellable, available) of every snapshot of the level, by day."""
    return [
        (row.day, row.on_hand, row.unsellable, row.available)
        for row in DailyStockSnapshot.objects.filter(level=level).order_by("day")
    ]


def snapshot_rows() -> list[tuple]:
    return list(
        DailyStockSnapshot.objects.order_by("level_id", "day").values_list(
            "pk", "level_id", "day", "on_hand", "reserved", "unsellable", "safety_stock", "inbound"
        )
    )


def day(days_ago: int) -> date:
    return TODAY - timedelta(days=days_ago)


@pytest.fixture
def backdated_ledger(variant, warehouse):
    """Recorded in this order, each backdated differently, so `*_after` follows recording
    order while the shelf followed the dates: 10 on day -5, then 5 that arrived on day -8,
    a damaged unit on day -6, a sale of 3 on day -2."""
    receive(variant, warehouse, 10, at(5))
    receive(variant, warehouse, 5, at(8))
    damage(variant, warehouse, 1, at(6))
    return adjust(variant, warehouse, -3, at(2))


def test_snapshots_follow_occurred_at_not_recording_order(backdated_ledger):
    written = rebuild_snapshots()

    assert written == 9
    assert closes(backdated_ledger) == [
        (day(8), 5, 0, 5),
        (day(7), 5, 0, 5),
        (day(6), 5, 1, 4),
        (day(5), 15, 1, 14),
        (day(4), 15, 1, 14),
        (day(3), 15, 1, 14),
        (day(2), 12, 1, 11),
        (day(1), 12, 1, 11),
        (day(0), 12, 1, 11),
    ]


def test_a_movement_just_before_midnight_closes_that_day_and_one_at_midnight_the_next(
    variant, warehouse
):
    receive(variant, warehouse, 4, at(3, 23, 59, 59, 999999))
    level = receive(variant, warehouse, 6, at(2, 0, 0, 0))

    rebuild_snapshots()

    assert closes(level) == [
        (day(3), 4, 0, 4),
        (day(2), 10, 0, 10),
        (day(1), 10, 0, 10),
        (day(0), 10, 0, 10),
    ]


def test_rebuilding_twice_keeps_the_same_rows_and_values(backdated_ledger):
    rebuild_snapshots()
    first = snapshot_rows()

    written = rebuild_snapshots()

    assert written == 9
    assert snapshot_rows() == first


def test_rebuild_since_a_day_starts_from_the_balance_the_ledger_had_then(backdated_ledger):
    written = rebuild_snapshots(since=day(3))

    assert written == 4
    assert closes(backdated_ledger) == [
        (day(3), 15, 1, 14),
        (day(2), 12, 1, 11),
        (day(1), 12, 1, 11),
        (day(0), 12, 1, 11),
    ]


def test_rebuild_since_a_day_corrects_stale_rows_and_leaves_earlier_days_alone(
    backdated_ledger,
):
    rebuild_snapshots()
    DailyStockSnapshot.objects.filter(level=backdated_ledger).update(on_hand=999)

    rebuild_snapshots(since=day(1))

    assert [on_hand for _, on_hand, _, _ in closes(backdated_ledger)] == [999] * 7 + [12, 12]


def test_rebuild_for_some_levels_leaves_the_others_alone(variant, warehouse):
    other = receive(VariantFactory(), warehouse, 3, at(1))
    level = receive(variant, warehouse, 2, at(1))

    written = rebuild_snapshots(level_ids=[level.pk])

    assert written == 2
    assert closes(level) == [(day(1), 2, 0, 2), (day(0), 2, 0, 2)]
    assert closes(other) == []


def test_refresh_rewrites_the_days_a_backdated_movement_changed(backdated_ledger, monkeypatch):
    rebuild_snapshots()
    set_clock(monkeypatch, NOW + timedelta(hours=1))
    receive(backdated_ledger.variant, backdated_ledger.warehouse, 20, at(7))

    refresh_snapshots()

    assert [on_hand for _, on_hand, _, _ in closes(backdated_ledger)] == [
        5,
        25,
        25,
        35,
        35,
        35,
        32,
        32,
        32,
    ]


def test_refresh_fills_the_days_missed_while_no_worker_ran(backdated_ledger, monkeypatch):
    rebuild_snapshots()
    set_clock(monkeypatch, NOW + timedelta(days=3))

    refresh_snapshots()

    assert closes(backdated_ledger)[-4:] == [
        (day(0), 12, 1, 11),
        (day(-1), 12, 1, 11),
        (day(-2), 12, 1, 11),
        (day(-3), 12, 1, 11),
    ]


def test_refresh_with_no_snapshots_yet_rebuilds_everything(backdated_ledger):
    written = refresh_snapshots()

    assert written == 9
    assert closes(backdated_ledger)[0] == (day(8), 5, 0, 5)


def test_snapshot_task_run_twice_leaves_the_same_rows(backdated_ledger):
    snapshot_stock_task()
    first = snapshot_rows()

    snapshot_stock_task()

    assert snapshot_rows() == first
    assert len(first) == 9


def test_snapshot_task_is_acknowledged_only_after_it_ran():
    assert snapshot_stock_task.acks_late is True


def test_rebuild_history_command_rebuilds_the_last_days(backdated_ledger, capsys):
    call_command("rebuild_history", "--days", "2")

    assert closes(backdated_ledger) == [(day(1), 12, 1, 11), (day(0), 12, 1, 11)]
    assert "Rebuilt 2 daily snapshots (since 2025-03-09)." in capsys.readouterr().out


def test_rebuild_history_command_refuses_fewer_than_one_day():
    with pytest.raises(CommandError, match="--days must be at least 1"):
        call_command("rebuild_history", "--days", "0")

    assert DailyStockSnapshot.objects.count() == 0


# --- The chart selector ---------------------------------------------------------------------


def test_history_ends_with_the_live_balance_not_todays_snapshot(
    backdated_ledger, variant, warehouse
):
    rebuild_snapshots()
    adjust(variant, warehouse, -2, NOW)

    (series,) = stock_history(variant, days=4)

    assert series.warehouse_code == "BAL"
    assert series.points == [
        HistoryPoint(day=day(3), on_hand=15, available=14),
        HistoryPoint(day=day(2), on_hand=12, available=11),
        HistoryPoint(day=day(1), on_hand=12, available=11),
        HistoryPoint(day=day(0), on_hand=10, available=9),
    ]


def test_history_starts_at_the_first_snapshot_inside_the_window(backdated_ledger, variant):
    rebuild_snapshots()

    (series,) = stock_history(variant, days=90)

    assert [point.day for point in series.points] == [day(n) for n in range(8, -1, -1)]
    assert series.points[0] == HistoryPoint(day=day(8), on_hand=5, available=5)


def test_history_repeats_the_previous_day_where_a_snapshot_is_missing(backdated_ledger, variant):
    rebuild_snapshots()
    DailyStockSnapshot.objects.filter(day=day(2)).delete()

    (series,) = stock_history(variant, days=4)

    assert series.points[1] == HistoryPoint(day=day(2), on_hand=15, available=14)


def test_history_has_one_series_per_warehouse_in_code_order(variant):
    for code, quantity in (("RNO", 3), ("AUS", 7)):
        receive(variant, WarehouseFactory(code=code), quantity, at(1))
    rebuild_snapshots()

    history = stock_history(variant, days=2)

    assert [(series.warehouse_code, series.points) for series in history] == [
        (
            "AUS",
            [HistoryPoint(day(1), 7, 7), HistoryPoint(day(0), 7, 7)],
        ),
        (
            "RNO",
            [HistoryPoint(day(1), 3, 3), HistoryPoint(day(0), 3, 3)],
        ),
    ]


def test_history_takes_two_queries_whatever_the_days_and_warehouses(
    variant, django_assert_num_queries
):
    for index in range(5):
        receive(variant, WarehouseFactory(code=f"W{index}"), 10 + index, at(60 + index))
    rebuild_snapshots()

    with django_assert_num_queries(2):
        short = stock_history(variant, days=3)
    with django_assert_num_queries(2):
        long = stock_history(variant, days=90)

    assert [len(series.points) for series in short] == [3] * 5
    assert [len(series.points) for series in long] == [61, 62, 63, 64, 65]
