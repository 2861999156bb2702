"""Concurrent buyers on real PostgreSQL: nobody gets a unit twice, nothing is half reserved."""

import random
import threading
import time
from datetime import timedelta
from functools import partial

import pytest
from django.db import connection, transaction
from django.db.models import F, Min, Sum
from django.utils import timezone

from stock.errors import InsufficientStock, InvalidOrderState
from stock.models import Allocation, MovementKind, Order, OrderStatus, StockLevel, StockMovement
from stock.services.orders import cancel_order, release_expired_holds, ship_order
from tests.stock.factories import (
    SYSTEM,
    VariantFactory,
    channel_selling_from,
    place,
    run_at_once,
    set_clock,
    stocked,
)
from tests.warehouses.factories import WarehouseFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

BUYERS = 200
# This PostgreSQL allows 100 connections (`show max_connections`), shared with other test
# runs, so 200 simultaneous connections are impossible: the 200 buyers go through a pool
# of 48 threads, each with its own connection, released together by a barrier and taking
# buyers from a queue until none are left. Every buyer still races the others for the lock.
WORKERS = 48


def lowest_available_ever(levels: list[StockLevel]) -> int:
    """The lowest available any ledger row of these levels ever left behind."""
    return StockMovement.objects.filter(level__in=levels).aggregate(
        lowest=Min(
            F("on_hand_after")
            - F("reserved_after")
            - F("unsellable_after")
            - F("safety_stock_after")
        )
    )["lowest"]


def held_per_level() -> dict[int, int]:
    return dict(
        Allocation.objects.filter(status=Allocation.Status.HELD)
        .values("level_id")
        .annotate(total=Sum("quantity"))
        .values_list("level_id", "total")
    )


@pytest.fixture
def north():
    return WarehouseFactory(code="NORTH")


@pytest.fixture
def south():
    return WarehouseFactory(code="SOUTH")


@pytest.fixture
def channel(north, south):
    return channel_selling_from(north, south, code="web")


def test_200_buyers_of_the_last_10_units_exactly_10_get_one(
    channel, north, south, verify_ledger_clean, verify_ledger_chain
):
    hot = VariantFactory(sku="HOT")
    levels = [stocked(hot, north, 6), stocked(hot, south, 4)]
    jobs = [partial(place, channel, f"buyer-{n}", ("HOT", 1)) for n in range(BUYERS)]

    attempts = run_at_once(jobs, workers=WORKERS)

    placed = [a.result for a in attempts if a.error is None]
    refused = [a.error for a in attempts if isinstance(a.error, InsufficientStock)]
    unexpected = [a.error for a in attempts if a.error is not None and a.error not in refused]
    assert unexpected == []
    assert (len(placed), len(refused)) == (10, 190)
    assert all(p.created for p in placed)
    short = {"line": 1, "sku": "HOT", "requested": 1, "available": 0, "missing": 1}
    assert [error.details for error in refused] == [{"lines": [short]}] * 190
    assert Order.objects.count() == 10
    assert [
        (lv.warehouse.code, lv.on_hand, lv.reserved, lv.available)
        for lv in StockLevel.objects.filter(variant=hot).order_by("warehouse__code")
    ] == [("NORTH", 6, 6, 0), ("SOUTH", 4, 4, 0)]
    assert lowest_available_ever(levels) >= 0
    assert StockMovement.objects.filter(kind=MovementKind.RESERVE).count() == 10
    verify_ledger_clean()
    verify_ledger_chain()


def test_multi_line_orders_racing_single_line_orders_leave_no_partial_reservation(
    channel, north, south, verify_ledger_clean, verify_ledger_chain
):
    sheet, pillow = VariantFactory(sku="SHEET"), VariantFactory(sku="PILLOW")
    # Both SKUs at both warehouses, so each order locks several levels in one go.
    levels = [
        stocked(sheet, north, 6),
        stocked(sheet, south, 4),
        stocked(pillow, north, 5),
        stocked(pillow, south, 5),
    ]
    jobs = (
        [partial(place, channel, f"pair-{n}", ("SHEET", 2), ("PILLOW", 2)) for n in range(20)]
        + [partial(place, channel, f"sheet-{n}", ("SHEET", 1)) for n in range(40)]
        + [partial(place, channel, f"pillow-{n}", ("PILLOW", 1)) for n in range(40)]
    )
    random.Random(3).shuffle(jobs)
    references = [job.args[1] for job in jobs]

    attempts = run_at_once(jobs, workers=WORKERS)

    unexpected = [a.error for a in attempts if not isinstance(a.error, InsufficientStock | None)]
    assert unexpected == []
    succeeded = {ref for ref, a in zip(references, attempts, strict=True) if a.error is None}
    assert set(Order.objects.values_list("reference", flat=True)) == succeeded
    for order in Order.objects.prefetch_related("lines__allocations"):
        for order_line in order.lines.all():
            held = sum(a.quantity for a in order_line.allocations.all() if a.status == "held")
            assert held == order_line.quantity, (order.reference, order_line.line_number)
    by_level = held_per_level()
    for level in StockLevel.objects.all():
        assert level.reserved == by_level.get(level.pk, 0), level
        assert level.available == 0, level
    documents = set(
        StockMovement.objects.filter(kind=MovementKind.RESERVE).values_list("document", flat=True)
    )
    assert documents == {f"order web/{reference}" for reference in succeeded}
    assert StockMovement.objects.filter(kind=MovementKind.RESERVE).count() == (
        Allocation.objects.count()
    )
    assert lowest_available_ever(levels) >= 0
    verify_ledger_clean()
    verify_ledger_chain()


def test_buyers_racing_the_expiry_task_for_expired_holds_free_each_unit_once(
    channel, north, south, monkeypatch, verify_ledger_clean, verify_ledger_chain
):
    hot = VariantFactory(sku="HOT")
    levels = [stocked(hot, north, 6), stocked(hot, south, 4)]
    abandoned = [place(channel, f"cart-{n}", ("HOT", 1)).order for n in range(10)]
    set_clock(monkeypatch, timezone.now() + timedelta(minutes=31))
    # Buyers release expired holds in line, the task releases them in batches: both at once.
    jobs = [partial(release_expired_holds, batch_size=3)] + [
        partial(place, channel, f"buyer-{n}", ("HOT", 1)) for n in range(BUYERS)
    ]

    attempts = run_at_once(jobs, workers=WORKERS)
    release_expired_holds()

    unexpected = [a.error for a in attempts if not isinstance(a.error, InsufficientStock | None)]
    assert unexpected == []
    assert sum(1 for a in attempts[1:] if a.error is None) == 10
    assert {o.status for o in Order.objects.filter(pk__in=[o.pk for o in abandoned])} == {
        OrderStatus.EXPIRED
    }
    releases = StockMovement.objects.filter(kind=MovementKind.RELEASE)
    assert sorted(releases.values_list("document", flat=True)) == sorted(
        o.document for o in abandoned
    )
    assert [
        (lv.reserved, lv.available) for lv in StockLevel.objects.filter(variant=hot).order_by("pk")
    ] == [(6, 0), (4, 0)]
    assert held_per_level() == {levels[0].pk: 6, levels[1].pk: 4}
    assert lowest_available_ever(levels) >= 0
    verify_ledger_clean()
    verify_ledger_chain()


def test_cancel_racing_ship_of_one_order_lets_exactly_one_win(
    channel, north, verify_ledger_clean, verify_ledger_chain
):
    sheet = VariantFactory(sku="SHEET")
    stocked(sheet, north, 10 * 3)
    orders = [place(channel, f"A-{n}", ("SHEET", 3)).order for n in range(10)]
    jobs = []
    for order in orders:
        jobs += [partial(cancel_order, order=order, actor=SYSTEM)]
        jobs += [partial(ship_order, order=order, actor=SYSTEM)]

    attempts = run_at_once(jobs, workers=len(jobs))

    for order, cancel, ship in zip(orders, attempts[0::2], attempts[1::2], strict=True):
        order.refresh_from_db()
        if order.status == OrderStatus.SHIPPED:
            assert (cancel.error.__class__, ship.error) == (InvalidOrderState, None)
        else:
            assert order.status == OrderStatus.CANCELLED
            assert (cancel.error, ship.error.__class__) == (None, InvalidOrderState)
    shipped = Order.objects.filter(status=OrderStatus.SHIPPED).count()
    level = StockLevel.objects.get(variant=sheet, warehouse=north)
    assert (level.on_hand, level.reserved) == (30 - 3 * shipped, 0)
    verify_ledger_clean()
    verify_ledger_chain()


# --- The same reference, twice at once ------------------------------------------------------


def _place_and_hold_commit(channel, reference, lines, placed: threading.Event, release):
    """Place inside an outer transaction and keep it open until `release` is set."""
    try:
        with transaction.atomic():
            result = place(channel, reference, *lines)
            placed.set()
            release.wait(timeout=30)
        return result
    finally:
        connection.close()


def _place_after(channel, reference, lines, placed: threading.Event):
    try:
        placed.wait(timeout=30)
        return place(channel, reference, *lines)
    finally:
        connection.close()


def _wait_until_a_session_waits_on_a_lock() -> None:
    deadline = time.monotonic() + 30
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.01)
    raise AssertionError("the second request never waited on the first one's lock")


def race_same_reference(channel, lines):
    """The first request holds its commit until the replay is blocked on its level locks."""
    placed, release = threading.Event(), threading.Event()
    outcomes: dict[str, object] = {}

    def first():
        outcomes["first"] = _place_and_hold_commit(channel, "A-1", lines, placed, release)

    def second():
        try:
            outcomes["second"] = _place_after(channel, "A-1", lines, placed)
        except Exception as error:
            outcomes["second"] = error

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    placed.wait(timeout=30)
    _wait_until_a_session_waits_on_a_lock()
    release.set()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes["first"], outcomes["second"]


def test_same_order_sent_twice_at_once_is_placed_once(channel, north, verify_ledger_clean):
    sheet = VariantFactory(sku="SHEET")
    stocked(sheet, north, 10)

    first, second = race_same_reference(channel, [("SHEET", 2)])

    assert first.created is True
    assert (second.created, second.order.pk) == (False, first.order.pk)
    assert Order.objects.count() == 1
    assert StockLevel.objects.get(variant=sheet, warehouse=north).reserved == 2
    verify_ledger_clean()


def test_replay_of_an_order_that_took_the_last_units_returns_the_order(
    channel, north, verify_ledger_clean
):
    sheet = VariantFactory(sku="SHEET")
    stocked(sheet, north, 2)

    first, second = race_same_reference(channel, [("SHEET", 2)])

    assert first.created is True
    assert not isinstance(second, Exception), second
    assert (second.created, second.order.pk) == (False, first.order.pk)
    verify_ledger_clean()
