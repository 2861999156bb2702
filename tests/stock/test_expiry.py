"""Hold expiry: reads ignore an expired hold at once; the task releases each hold once."""

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from functools import partial

import pytest
from django.db import connection, transaction
from django.utils import timezone

from stock.actors import Actor
from stock.availability import storefront_availability
from stock.errors import InsufficientStock, InvalidOrderState
from stock.models import (
    Allocation,
    BackorderPolicy,
    MovementKind,
    MovementSource,
    Order,
    OrderLine,
    OrderStatus,
    StockLevel,
    StockMovement,
)
from stock.selectors import channel_salable
from stock.services.orders import pay_order, release_expired_holds
from stock.services.orders.expiry import close_expired_batch, release_closed_batch
from tests.stock.factories import (
    SYSTEM,
    Balance,
    VariantFactory,
    balance_of,
    channel_selling_from,
    order_movements,
    orders_state,
    place,
    run_at_once,
    set_clock,
    stocked,
)
from tests.warehouses.factories import WarehouseFactory

HOLD = timedelta(minutes=30)
AFTER_EXPIRY = HOLD + timedelta(minutes=1)


@pytest.fixture
def north():
    return WarehouseFactory(code="NORTH")


@pytest.fixture
def south():
    return WarehouseFactory(code="SOUTH")


@pytest.fixture
def channel(north, south):
    return channel_selling_from(north, south, code="web", hold_minutes=30)


@pytest.fixture
def sheet():
    return VariantFactory(sku="SHEET", low_stock_threshold=0)


@pytest.fixture(autouse=True)
def empty_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def expiry_of(order: Order):
    return Order.objects.values_list("expires_at", flat=True).get(pk=order.pk)


def status_of(order: Order) -> str:
    return Order.objects.values_list("status", flat=True).get(pk=order.pk)


# --- Reads ignore an expired hold -----------------------------------------------------------


@pytest.mark.django_db
def test_hold_counts_until_the_moment_it_expires(channel, north, sheet, monkeypatch):
    stocked(sheet, north, 10)
    order = place(channel, "A-1", ("SHEET", 4)).order

    set_clock(monkeypatch, expiry_of(order) - timedelta(seconds=1))

    assert channel_salable(channel, sheet).salable == 6


@pytest.mark.django_db
def test_expired_hold_stops_counting_in_salable_before_the_task_runs(
    channel, north, sheet, monkeypatch
):
    level = stocked(sheet, north, 10)
    order = place(channel, "A-1", ("SHEET", 4)).order

    set_clock(monkeypatch, expiry_of(order))

    salable = channel_salable(channel, sheet)
    assert salable.salable == 10
    assert [(w.warehouse_code, w.reserved, w.available) for w in salable.breakdown] == [
        ("NORTH", 0, 10),
        ("SOUTH", 0, 0),
    ]
    assert balance_of(level) == Balance(on_hand=10, reserved=4, version=2)
    assert status_of(order) == OrderStatus.PLACED


@pytest.mark.django_db
def test_expired_hold_stops_counting_in_storefront_availability(channel, north, sheet, monkeypatch):
    stocked(sheet, north, 10)
    order = place(channel, "A-1", ("SHEET", 4)).order

    set_clock(monkeypatch, expiry_of(order) + timedelta(seconds=1))

    (answer,), unknown = storefront_availability(channel=channel, skus=["SHEET"])
    assert (answer.salable_quantity, answer.status, unknown) == (10, "in_stock", [])


@pytest.mark.django_db
def test_paid_hold_keeps_counting_after_its_old_expiry(channel, north, sheet, monkeypatch):
    stocked(sheet, north, 10)
    order = place(channel, "A-1", ("SHEET", 4)).order
    old_expiry = expiry_of(order)
    pay_order(order=order, actor=SYSTEM)

    set_clock(monkeypatch, old_expiry + timedelta(minutes=1))

    assert channel_salable(channel, sheet).salable == 6


# --- Placing releases expired holds it needs ------------------------------------------------


@pytest.mark.django_db
def test_order_that_needs_an_expired_holds_stock_releases_it_and_succeeds(
    channel, north, sheet, monkeypatch, verify_ledger_clean
):
    level = stocked(sheet, north, 10)
    abandoned = place(channel, "A-1", ("SHEET", 10)).order
    set_clock(monkeypatch, expiry_of(abandoned) + timedelta(seconds=1))

    placed = place(channel, "A-2", ("SHEET", 10))

    assert placed.created is True
    assert balance_of(level) == Balance(on_hand=10, reserved=10, version=4)
    assert [
        (row.kind, row.delta_reserved, row.note, row.actor_label)
        for row in order_movements(abandoned)
    ] == [
        ("reserve", 10, "", "tests"),
        ("release", -10, "hold expired", "hold expiry"),
    ]
    assert list(
        Allocation.objects.filter(line__order=abandoned).values_list("status", flat=True)
    ) == ["released"]
    verify_ledger_clean()


@pytest.mark.django_db
def test_task_later_closes_an_order_whose_hold_was_released_in_line(
    channel, north, sheet, monkeypatch, verify_ledger_clean
):
    stocked(sheet, north, 10)
    abandoned = place(channel, "A-1", ("SHEET", 10)).order
    set_clock(monkeypatch, expiry_of(abandoned) + timedelta(seconds=1))
    place(channel, "A-2", ("SHEET", 10))
    ledger_before = orders_state().ledger

    expired = release_expired_holds()

    assert expired == 1
    assert status_of(abandoned) == OrderStatus.EXPIRED
    assert orders_state().ledger == ledger_before
    verify_ledger_clean()


@pytest.mark.django_db
def test_preorder_that_needs_an_expired_holds_stock_is_not_backordered(
    channel, north, monkeypatch, verify_ledger_clean
):
    preorder = VariantFactory(sku="PRE", backorders=BackorderPolicy.ALLOW)
    level = stocked(preorder, north, 5)
    abandoned = place(channel, "A-1", ("PRE", 5)).order
    set_clock(monkeypatch, expiry_of(abandoned) + timedelta(seconds=1))

    placed = place(channel, "A-2", ("PRE", 5))

    assert placed.lines[0].backordered_quantity == 0
    assert balance_of(level) == Balance(on_hand=5, reserved=5, version=4)
    verify_ledger_clean()


@pytest.mark.django_db
def test_placing_leaves_holds_that_have_not_expired(channel, north, sheet):
    stocked(sheet, north, 10)
    place(channel, "A-1", ("SHEET", 10))
    before = orders_state()

    with pytest.raises(InsufficientStock):
        place(channel, "A-2", ("SHEET", 1))

    assert orders_state() == before


# --- Placing while the expiry task holds the orders it needs --------------------------------


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def waits_for_a_lock(pid: int, *, seconds: float) -> bool:
    """Whether backend `pid` comes to wait for a lock within `seconds` (polled)."""
    deadline = time.monotonic() + seconds
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE pid = %s AND NOT granted", [pid])
            if cursor.fetchone()[0]:
                return True
            time.sleep(0.01)
    return False


class ExpiryMidBatch(threading.Thread):
    """The expiry task's batch, paused after closing its orders and before locking levels.

    It goes on once the buyer's backend waits for a lock, or after `pause` seconds.
    """

    def __init__(self, *, now, buyer_pid: int, pause: float) -> None:
        super().__init__()
        self.now, self.buyer_pid, self.pause = now, buyer_pid, pause
        self.closed = threading.Event()
        self.buyer_waited: bool | None = None

    def run(self) -> None:
        try:
            with transaction.atomic():
                batch = close_expired_batch(now=self.now, batch_size=10)
                self.closed.set()
                self.buyer_waited = waits_for_a_lock(self.buyer_pid, seconds=self.pause)
                release_closed_batch(batch, now=self.now, actor=Actor.system("hold expiry"))
        finally:
            self.closed.set()
            connection.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_buyer_short_while_the_expiry_task_releases_the_hold_it_needs_waits_and_gets_it(
    channel, north, sheet, monkeypatch, verify_ledger_clean, verify_ledger_chain
):
    level = stocked(sheet, north, 1)
    abandoned = place(channel, "A-1", ("SHEET", 1)).order
    later = expiry_of(abandoned) + timedelta(seconds=1)
    set_clock(monkeypatch, later)
    expiry = ExpiryMidBatch(now=later, buyer_pid=backend_pid(), pause=10)
    expiry.start()
    assert expiry.closed.wait(timeout=30)

    placed = place(channel, "B-1", ("SHEET", 1))

    expiry.join(timeout=30)
    assert expiry.buyer_waited is True
    assert placed.created is True
    assert status_of(abandoned) == OrderStatus.EXPIRED
    assert [(row.kind, row.actor_label) for row in order_movements(abandoned)] == [
        ("reserve", "tests"),
        ("release", "hold expiry"),
    ]
    assert list(
        Allocation.objects.filter(line__order=placed.order).values_list("status", "quantity")
    ) == [("held", 1)]
    assert balance_of(level) == Balance(on_hand=1, reserved=1, version=4)
    verify_ledger_clean()
    verify_ledger_chain()


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_buyer_waits_for_a_locked_expired_order_only_so_long_then_is_refused(
    channel, north, sheet, monkeypatch, verify_ledger_clean
):
    from stock.services.orders import locked as order_services

    level = stocked(sheet, north, 1)
    abandoned = place(channel, "A-1", ("SHEET", 1)).order
    later = expiry_of(abandoned) + timedelta(seconds=1)
    set_clock(monkeypatch, later)
    monkeypatch.setattr(order_services, "EXPIRED_HOLD_WAIT_MS", 200)
    # Paused past the buyer's patience: the batch still holds the order when it gives up.
    expiry = ExpiryMidBatch(now=later, buyer_pid=0, pause=3)
    expiry.start()
    assert expiry.closed.wait(timeout=30)
    started = time.monotonic()

    with pytest.raises(InsufficientStock):
        place(channel, "B-1", ("SHEET", 1))

    waited = time.monotonic() - started
    expiry.join(timeout=30)
    assert 0.2 <= waited < 2.5, waited
    assert not Order.objects.filter(reference="B-1").exists()
    assert status_of(abandoned) == OrderStatus.EXPIRED
    assert balance_of(level) == Balance(on_hand=1, reserved=0, version=3)
    verify_ledger_clean()


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_buyer_inside_a_transaction_is_refused_at_once_instead_of_waiting(
    channel, north, sheet, monkeypatch
):
    stocked(sheet, north, 1)
    abandoned = place(channel, "A-1", ("SHEET", 1)).order
    later = expiry_of(abandoned) + timedelta(seconds=1)
    set_clock(monkeypatch, later)
    expiry = ExpiryMidBatch(now=later, buyer_pid=0, pause=3)
    expiry.start()
    assert expiry.closed.wait(timeout=30)
    started = time.monotonic()

    # The caller's transaction may hold locks the expiry needs: no waiting inside one.
    with pytest.raises(InsufficientStock), transaction.atomic():
        place(channel, "B-1", ("SHEET", 1))

    waited = time.monotonic() - started
    expiry.join(timeout=30)
    # Waiting would have taken the full 2 s allowed: the batch pauses for 3 s.
    assert waited < 1, waited
    assert status_of(abandoned) == OrderStatus.EXPIRED


# --- The expiry task ------------------------------------------------------------------------


@pytest.mark.django_db
def test_task_releases_only_the_holds_past_their_expiry(
    channel, north, south, sheet, verify_ledger_clean
):
    sheet_north = stocked(sheet, north, 5)
    sheet_south = stocked(sheet, south, 5)
    old = place(channel, "OLD", ("SHEET", 7), hold_minutes=10).order
    fresh = place(channel, "FRESH", ("SHEET", 2), hold_minutes=60).order

    expired = release_expired_holds(now=timezone.now() + timedelta(minutes=11))

    assert expired == 1
    assert (status_of(old), status_of(fresh)) == (OrderStatus.EXPIRED, OrderStatus.PLACED)
    assert balance_of(sheet_north).reserved == 0
    assert balance_of(sheet_south).reserved == 2
    assert [
        (row.kind, row.source, row.document, row.delta_reserved, row.note, row.actor_kind)
        for row in order_movements(old)
        if row.kind == MovementKind.RELEASE
    ] == [
        ("release", MovementSource.ORDER, "order web/OLD", -5, "hold expired", "system"),
        ("release", MovementSource.ORDER, "order web/OLD", -2, "hold expired", "system"),
    ]
    assert list(OrderLine.objects.filter(order=old).values_list("status", flat=True)) == [
        "released"
    ]
    old.refresh_from_db()
    assert (old.expires_at, old.closed_at is not None) == (None, True)
    verify_ledger_clean()


@pytest.mark.django_db
def test_running_the_task_again_changes_nothing(channel, north, sheet):
    stocked(sheet, north, 5)
    place(channel, "A-1", ("SHEET", 3))
    later = timezone.now() + AFTER_EXPIRY
    release_expired_holds(now=later)
    before = orders_state()

    expired = release_expired_holds(now=later)

    assert expired == 0
    assert orders_state() == before


@pytest.mark.django_db
def test_order_paid_one_second_before_its_expiry_is_never_released(
    channel, north, sheet, monkeypatch
):
    level = stocked(sheet, north, 5)
    order = place(channel, "A-1", ("SHEET", 3)).order
    expires_at = expiry_of(order)
    set_clock(monkeypatch, expires_at - timedelta(seconds=1))
    pay_order(order=order, actor=SYSTEM)
    before = orders_state()

    set_clock(monkeypatch, expires_at + timedelta(seconds=1))
    expired = release_expired_holds()

    assert expired == 0
    assert status_of(order) == OrderStatus.PAID
    assert balance_of(level) == Balance(on_hand=5, reserved=3, version=2)
    assert orders_state() == before


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_task_skips_an_order_being_paid_instead_of_waiting_for_it(channel, north, sheet):
    stocked(sheet, north, 5)
    busy = place(channel, "BUSY", ("SHEET", 2)).order
    idle = place(channel, "IDLE", ("SHEET", 1)).order
    locked, release = threading.Event(), threading.Event()

    def hold_order_lock() -> None:
        try:
            with transaction.atomic():
                Order.objects.select_for_update().get(pk=busy.pk)
                locked.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_order_lock)
    holder.start()
    locked.wait(timeout=30)
    try:
        expired = release_expired_holds(now=timezone.now() + AFTER_EXPIRY)
    finally:
        release.set()
        holder.join(timeout=30)

    assert expired == 1
    assert (status_of(busy), status_of(idle)) == (OrderStatus.PLACED, OrderStatus.EXPIRED)
    assert release_expired_holds(now=timezone.now() + AFTER_EXPIRY) == 1
    assert status_of(busy) == OrderStatus.EXPIRED


# --- Two runs at once -----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_two_task_runs_at_the_same_moment_release_each_hold_once(
    channel, north, south, verify_ledger_clean, verify_ledger_chain
):
    sheet, pillow = VariantFactory(sku="SHEET"), VariantFactory(sku="PILLOW")
    stocked(sheet, north, 300)
    stocked(pillow, south, 300)
    orders = [place(channel, f"A-{n}", ("SHEET", 1), ("PILLOW", 1)).order for n in range(300)]
    later = timezone.now() + AFTER_EXPIRY
    # Small batches, so the two runs take turns over the same two levels many times.
    run = partial(release_expired_holds, batch_size=7, now=later)

    attempts = run_at_once([run, run], workers=2)

    assert [a.error for a in attempts] == [None, None]
    assert sum(a.result for a in attempts) == 300
    # Both runs took batches (measured: 147 and 153 in five of five runs), so they overlapped.
    assert all(a.result > 0 for a in attempts), [a.result for a in attempts]
    assert set(Order.objects.values_list("status", flat=True)) == {OrderStatus.EXPIRED}
    assert Order.objects.count() == len(orders)
    releases = StockMovement.objects.filter(kind=MovementKind.RELEASE)
    assert releases.count() == Allocation.objects.count() == 600
    assert sorted(releases.values_list("reference", flat=True)) == sorted(
        f"order:{order_id}/allocation:{allocation_id}/release"
        for allocation_id, order_id in Allocation.objects.values_list("pk", "line__order_id")
    )
    assert list(StockLevel.objects.order_by("pk").values_list("reserved", flat=True)) == [0, 0]
    verify_ledger_clean()
    verify_ledger_chain()


# --- One run, several workers ---------------------------------------------------------------


def after_each_batch(monkeypatch, react) -> Callable[[], None]:
    """Call `react(batch)` in the thread that ran each expiry batch, inside its transaction,
    once the batch itself has run unchanged. Returns what puts the plain batch back."""
    from stock.services.orders import expiry as orders

    release_batch = orders.release_expired_batch

    def reacting(**kwargs):
        batch = release_batch(**kwargs)
        react(batch)
        return batch

    monkeypatch.setattr(orders, "release_expired_batch", reacting)
    return partial(monkeypatch.setattr, orders, "release_expired_batch", release_batch)


def batches_by_thread(monkeypatch) -> list[str]:
    """Record which thread ran each expiry batch that expired orders."""
    threads: list[str] = []

    def record(batch) -> None:
        if batch.order_ids:
            threads.append(threading.current_thread().name)

    after_each_batch(monkeypatch, record)
    return threads


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_a_backlog_cleared_by_two_workers_releases_each_hold_once(
    channel, north, south, monkeypatch, verify_ledger_clean, verify_ledger_chain
):
    skus = [VariantFactory(sku=f"SKU-{n}") for n in range(4)]
    for variant in skus:
        stocked(variant, north, 100)
        stocked(variant, south, 100)
    for n in range(120):
        place(channel, f"A-{n}", (f"SKU-{n % 4}", 1), (f"SKU-{(n + 1) % 4}", 2))
    threads = batches_by_thread(monkeypatch)

    # Small batches over few levels: the two workers queue for the same level locks often.
    expired = release_expired_holds(batch_size=4, now=timezone.now() + AFTER_EXPIRY, workers=2)

    assert expired == 120
    assert len(threads) == 30
    # Both took batches (measured: main/helper 16/14 in five of five runs).
    assert set(threads) == {"MainThread", "hold-expiry"}, threads
    assert set(Order.objects.values_list("status", flat=True)) == {OrderStatus.EXPIRED}
    assert set(OrderLine.objects.values_list("status", flat=True)) == {"released"}
    releases = StockMovement.objects.filter(kind=MovementKind.RELEASE)
    assert sorted(releases.values_list("reference", flat=True)) == sorted(
        f"order:{order_id}/allocation:{allocation_id}/release"
        for allocation_id, order_id in Allocation.objects.values_list("pk", "line__order_id")
    )
    assert set(Allocation.objects.values_list("status", flat=True)) == {"released"}
    assert set(StockLevel.objects.values_list("reserved", flat=True)) == {0}
    verify_ledger_clean()
    verify_ledger_chain()


@pytest.mark.django_db
def test_expiry_called_inside_a_transaction_runs_there_alone(
    channel, north, sheet, monkeypatch, verify_ledger_clean
):
    level = stocked(sheet, north, 10)
    for n in range(3):
        place(channel, f"A-{n}", ("SHEET", 1))
    threads = batches_by_thread(monkeypatch)

    expired = release_expired_holds(batch_size=1, now=timezone.now() + AFTER_EXPIRY, workers=2)

    # A helper's own connection could not see this test's uncommitted orders.
    assert (expired, threads) == (3, ["MainThread"] * 3)
    assert balance_of(level) == Balance(on_hand=10, reserved=0, version=7)
    verify_ledger_clean()


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_a_failing_worker_is_reported_and_leaves_no_batch_half_written(
    channel, north, sheet, monkeypatch, verify_ledger_clean, verify_ledger_chain
):
    level = stocked(sheet, north, 50)
    orders = [place(channel, f"A-{n}", ("SHEET", 1)).order for n in range(40)]

    def fail_in_the_helper(batch) -> None:
        if threading.current_thread().name == "hold-expiry":
            raise RuntimeError("worker lost")

    restore = after_each_batch(monkeypatch, fail_in_the_helper)
    later = timezone.now() + AFTER_EXPIRY

    with pytest.raises(RuntimeError, match="worker lost"):
        release_expired_holds(batch_size=5, now=later, workers=2)

    # The helper's batch was rolled back whole (the main worker may have taken its orders
    # later): each order is expired with its hold released, or still placed and held.
    left = [order for order in orders if status_of(order) == OrderStatus.PLACED]
    for order in orders:
        is_left = order in left
        allocation = Allocation.objects.get(line__order=order)
        assert allocation.status == ("held" if is_left else "released"), order.reference
        kinds = [row.kind for row in order_movements(order)]
        assert kinds == (["reserve"] if is_left else ["reserve", "release"]), order.reference
    assert balance_of(level).reserved == len(left)
    verify_ledger_clean()
    verify_ledger_chain()
    restore()
    assert release_expired_holds(batch_size=5, now=later, workers=2) == len(left)
    assert balance_of(level).reserved == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_payment_racing_the_expiry_task_lets_exactly_one_win(
    channel, north, sheet, verify_ledger_clean, verify_ledger_chain
):
    level = stocked(sheet, north, 20)
    orders = [place(channel, f"A-{n}", ("SHEET", 1)).order for n in range(20)]
    # Paid now, expired from the task's point of view: every order is the last second's.
    task = partial(release_expired_holds, batch_size=1, now=timezone.now() + AFTER_EXPIRY)
    jobs = [task] + [partial(pay_order, order=order, actor=SYSTEM) for order in orders]

    attempts = run_at_once(jobs, workers=len(jobs))

    task_attempt, pays = attempts[0], attempts[1:]
    assert task_attempt.error is None
    paid = expired = 0
    for order, pay in zip(orders, pays, strict=True):
        releases = StockMovement.objects.filter(
            document=f"order web/{order.reference}", kind=MovementKind.RELEASE
        ).count()
        if status_of(order) == OrderStatus.PAID:
            assert (pay.error, releases) == (None, 0), order.reference
            paid += 1
        else:
            assert status_of(order) == OrderStatus.EXPIRED
            assert (type(pay.error), releases) == (InvalidOrderState, 1), order.reference
            expired += 1
    assert task_attempt.result == expired
    assert balance_of(level).reserved == paid
    assert paid + expired == 20
    verify_ledger_clean()
    verify_ledger_chain()


@pytest.mark.django_db
def test_holds_on_one_level_expiring_together_leave_running_balances_in_the_ledger(
    channel, north, sheet, verify_ledger_clean
):
    level = stocked(sheet, north, 10)
    first = place(channel, "A-1", ("SHEET", 2)).order
    second = place(channel, "A-2", ("SHEET", 3)).order

    release_expired_holds(now=timezone.now() + AFTER_EXPIRY)

    releases = StockMovement.objects.filter(level=level, kind=MovementKind.RELEASE).order_by("id")
    allocation_ids = [Allocation.objects.get(line__order=order).pk for order in (first, second)]
    assert [(row.delta_reserved, row.reserved_after, row.on_hand_after) for row in releases] == [
        (-2, 3, 10),
        (-3, 0, 10),
    ]
    assert [row.reference for row in releases] == [
        f"order:{first.pk}/allocation:{allocation_ids[0]}/release",
        f"order:{second.pk}/allocation:{allocation_ids[1]}/release",
    ]
    assert balance_of(level) == Balance(on_hand=10, reserved=0, version=5)
    verify_ledger_clean()


@pytest.mark.django_db
def test_expiry_tells_live_pages_each_level_at_its_new_version(
    channel, north, sheet, django_capture_on_commit_callbacks
):
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from stock.events import warehouse_group

    level = stocked(sheet, north, 10)
    place(channel, "A-1", ("SHEET", 2))
    place(channel, "A-2", ("SHEET", 3))
    layer = get_channel_layer()
    listener = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(warehouse_group(north.pk), listener)

    with django_capture_on_commit_callbacks(execute=True):
        release_expired_holds(now=timezone.now() + AFTER_EXPIRY)

    message = async_to_sync(layer.receive)(listener)
    assert message["type"] == "stock.changed"
    assert message["levels"] == [
        {"level_id": level.pk, "variant_id": sheet.pk, "warehouse_id": north.pk, "version": 5}
    ]
