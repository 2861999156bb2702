"""Races on real PostgreSQL: no lost update, no deadlock, no oversell, one row per replay.

Each worker thread has its own database connection (closed when it finishes); a barrier
lines the threads up so that their first transactions really start together. After every
race the ledger must explain every balance, row by row.
"""

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from stock.actors import Actor
from stock.errors import InsufficientStock
from stock.models import (
    BackorderPolicy,
    ForcedStatus,
    MovementKind,
    MovementSource,
    ReasonCode,
    StockLevel,
    StockMovement,
    Variant,
)
from stock.services import (
    LevelChange,
    adjust_stock,
    apply_change,
    apply_changes,
    count_stock,
    force_status,
    receive_stock,
    set_backorder_policy,
    set_safety_stock,
)
from tests.stock.factories import SYSTEM, Balance, VariantFactory, balance_of, stocked
from tests.warehouses.factories import WarehouseFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 8
ROUNDS = 25


@dataclass
class Finished:
    """What one worker's call returned, or the error it raised."""

    value: object = None
    error: BaseException | None = None


def race(tasks: list[Callable[[], object]], *, timeout: float = 120) -> list[Finished]:
    """Run each task in its own thread, all released at once; return each one's result."""
    barrier = threading.Barrier(len(tasks))
    results = [Finished() for _ in tasks]

    def run(index: int, task: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=30)
            results[index].value = task()
        except BaseException as error:
            results[index].error = error
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(index, task), name=f"race-{index}")
        for index, task in enumerate(tasks)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert [thread.name for thread in threads if thread.is_alive()] == []
    return results


def errors_of(results: list[Finished]) -> list[BaseException]:
    return [result.error for result in results if result.error is not None]


def repeat(times: int, step: Callable[[int], object]) -> Callable[[], list[object]]:
    return lambda: [step(round_number) for round_number in range(times)]


def on_hand_change(variant, warehouse, delta: int) -> LevelChange:
    return LevelChange(
        variant=variant,
        warehouse=warehouse,
        kind=MovementKind.ADJUSTMENT,
        reason=ReasonCode.CORRECTION,
        delta_on_hand=delta,
    )


# --- (a) No lost update --------------------------------------------------------------------


def test_concurrent_receipts_and_adjustments_to_one_level_lose_no_update(
    verify_ledger_clean, verify_ledger_chain
):
    variant, warehouse = VariantFactory(), WarehouseFactory()
    level = stocked(variant, warehouse, 1000)

    def receiver(quantity: int):
        return repeat(
            ROUNDS,
            lambda _: receive_stock(
                variant=variant, warehouse=warehouse, quantity=quantity, actor=SYSTEM
            ),
        )

    def taker(quantity: int):
        return repeat(
            ROUNDS,
            lambda _: adjust_stock(
                variant=variant,
                warehouse=warehouse,
                delta=-quantity,
                reason=ReasonCode.LOST,
                actor=SYSTEM,
            ),
        )

    # Threads 0-3 receive 1..4 units per round, threads 4-7 take 1..4 units and 1 extra.
    tasks = [receiver(n) for n in (1, 2, 3, 4)] + [taker(n) for n in (2, 2, 3, 4)]

    results = race(tasks)

    assert errors_of(results) == []
    expected = 1000 + ROUNDS * (1 + 2 + 3 + 4) - ROUNDS * (2 + 2 + 3 + 4)
    assert balance_of(level) == Balance(on_hand=expected, version=1 + THREADS * ROUNDS)
    assert StockMovement.objects.filter(level=level).count() == 1 + THREADS * ROUNDS
    verify_ledger_clean()
    verify_ledger_chain()
    call_command("verify_ledger")


# --- (b) No deadlock -----------------------------------------------------------------------


def two_levels(layout: str):
    """Two levels to move stock between: sharing a variant, a warehouse, or neither."""
    first_variant, first_warehouse = VariantFactory(), WarehouseFactory()
    second_variant = first_variant if layout == "same_variant" else VariantFactory()
    second_warehouse = first_warehouse if layout == "same_warehouse" else WarehouseFactory()
    return (
        (first_variant, first_warehouse, stocked(first_variant, first_warehouse, 500)),
        (second_variant, second_warehouse, stocked(second_variant, second_warehouse, 500)),
    )


@pytest.mark.parametrize("layout", ["same_variant", "same_warehouse", "unrelated"])
def test_opposite_two_level_batches_do_not_deadlock(
    layout, verify_ledger_clean, verify_ledger_chain
):
    (a_variant, a_warehouse, a_level), (b_variant, b_warehouse, b_level) = two_levels(layout)

    def a_then_b(_):
        return apply_changes(
            [on_hand_change(a_variant, a_warehouse, -1), on_hand_change(b_variant, b_warehouse, 1)],
            actor=SYSTEM,
            source=MovementSource.SYSTEM,
        )

    def b_then_a(_):
        return apply_changes(
            [on_hand_change(b_variant, b_warehouse, -1), on_hand_change(a_variant, a_warehouse, 1)],
            actor=SYSTEM,
            source=MovementSource.SYSTEM,
        )

    tasks = [repeat(ROUNDS, a_then_b if n % 2 else b_then_a) for n in range(THREADS)]

    results = race(tasks)

    assert errors_of(results) == []
    assert balance_of(a_level) == Balance(on_hand=500, version=1 + THREADS * ROUNDS)
    assert balance_of(b_level) == Balance(on_hand=500, version=1 + THREADS * ROUNDS)
    verify_ledger_clean()
    verify_ledger_chain()


def test_overlapping_batches_over_many_levels_in_shuffled_orders_do_not_deadlock(
    verify_ledger_clean, verify_ledger_chain
):
    variant = VariantFactory()
    warehouses = [WarehouseFactory() for _ in range(5)]
    levels = [stocked(variant, warehouse, 100) for warehouse in warehouses]

    def batch_in_order(order: list[int]):
        # Each batch moves one unit around a cycle of warehouses: the totals stay put.
        changes = []
        for position, index in enumerate(order):
            changes.append(on_hand_change(variant, warehouses[index], -1))
            following = order[(position + 1) % len(order)]
            changes.append(on_hand_change(variant, warehouses[following], 1))
        return lambda _: apply_changes(changes, actor=SYSTEM, source=MovementSource.SYSTEM)

    orders = [[0, 1, 2, 3, 4], [4, 3, 2, 1, 0], [2, 0, 4, 1, 3], [3, 1, 4, 0, 2]] * 2
    tasks = [repeat(ROUNDS, batch_in_order(order)) for order in orders]

    results = race(tasks)

    assert errors_of(results) == []
    movements_per_level = 1 + THREADS * ROUNDS * 2
    assert [balance_of(level) for level in levels] == [
        Balance(on_hand=100, version=movements_per_level)
    ] * 5
    verify_ledger_clean()
    verify_ledger_chain()


# --- (c) Selling out -----------------------------------------------------------------------


def test_racing_decreases_sell_out_exactly_and_never_go_negative(
    verify_ledger_clean, verify_ledger_chain
):
    variant, warehouse = VariantFactory(), WarehouseFactory()
    level = stocked(variant, warehouse, 10)

    def take_one():
        return adjust_stock(
            variant=variant, warehouse=warehouse, delta=-1, reason=ReasonCode.ORDER, actor=SYSTEM
        )

    results = race([take_one] * 20)

    refusals = errors_of(results)
    assert len([result for result in results if result.error is None]) == 10
    assert [type(error) for error in refusals] == [InsufficientStock] * 10
    assert balance_of(level) == Balance(on_hand=0, version=11)
    after = StockMovement.objects.filter(level=level).values_list("on_hand_after", flat=True)
    assert sorted(after) == list(range(0, 11))
    verify_ledger_clean()
    verify_ledger_chain()


def test_racing_reservations_never_promise_more_than_is_available(
    verify_ledger_clean, verify_ledger_chain
):
    variant, warehouse = VariantFactory(), WarehouseFactory()
    level = stocked(variant, warehouse, 7)

    def reserve_two():
        return apply_change(
            LevelChange(
                variant=variant,
                warehouse=warehouse,
                kind=MovementKind.RESERVE,
                reason=ReasonCode.ORDER,
                delta_reserved=2,
            ),
            actor=SYSTEM,
            source=MovementSource.ORDER,
        )

    results = race([reserve_two] * 12)

    assert Counter(type(result.error).__name__ for result in results) == {
        "NoneType": 3,
        "InsufficientStock": 9,
    }
    assert balance_of(level) == Balance(on_hand=7, reserved=6, version=4)
    verify_ledger_clean()
    verify_ledger_chain()


# --- (d) Replays ---------------------------------------------------------------------------


def test_concurrent_replays_of_one_reference_write_one_row(
    verify_ledger_clean, verify_ledger_chain
):
    variant, warehouse = VariantFactory(), WarehouseFactory()
    level = stocked(variant, warehouse, 10)

    def deliver():
        return receive_stock(
            variant=variant,
            warehouse=warehouse,
            quantity=5,
            actor=SYSTEM,
            source=MovementSource.CONNECTOR,
            reference="shipment-notice-42",
        ).outcome

    results = race([deliver] * THREADS)

    assert errors_of(results) == []
    assert sorted(result.value for result in results) == ["applied"] + ["replayed"] * 7
    assert StockMovement.objects.filter(reference="shipment-notice-42").count() == 1
    assert balance_of(level) == Balance(on_hand=15, version=2)
    verify_ledger_clean()
    verify_ledger_chain()


def test_concurrent_replays_of_one_reference_at_different_levels_write_one_row(
    verify_ledger_clean, verify_ledger_chain
):
    # Different levels take different locks, so only the unique (source, reference)
    # constraint can stop the second row: the loser must turn into a replay, not an error.
    variant = VariantFactory()
    warehouses = [WarehouseFactory() for _ in range(THREADS)]

    def deliver(warehouse):
        return lambda: (
            receive_stock(
                variant=variant,
                warehouse=warehouse,
                quantity=5,
                actor=SYSTEM,
                source=MovementSource.CONNECTOR,
                reference="evt-7",
            ).outcome
        )

    results = race([deliver(warehouse) for warehouse in warehouses])

    assert errors_of(results) == []
    assert sorted(result.value for result in results) == ["applied"] + ["replayed"] * 7
    assert StockMovement.objects.filter(reference="evt-7").count() == 1
    assert sum(StockLevel.objects.filter(variant=variant).values_list("on_hand", flat=True)) == 5
    verify_ledger_clean()
    verify_ledger_chain()


# --- (e) Backorder policy against stock changes -------------------------------------------


def backend_waits_for_a_lock(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cursor.fetchone()
    return row is not None and row[0] == "Lock"


def test_policy_change_queued_behind_an_open_stock_change_does_not_deadlock_it(
    verify_ledger_clean, verify_ledger_chain
):
    # The interleaving, step by step: a change locks the level and writes its ledger row;
    # the policy change then locks the variant and queues for that level; the change commits.
    variant = VariantFactory(backorders=BackorderPolicy.ALLOW)
    warehouse = WarehouseFactory()
    level = stocked(variant, warehouse, 5)
    change_holds_the_level = threading.Event()
    policy_change_is_queued = threading.Event()
    policy_change_finished = threading.Event()
    policy_backend_known = threading.Event()
    policy_backend: list[int] = []

    def stock_change():
        with transaction.atomic():
            adjust_stock(
                variant=variant,
                warehouse=warehouse,
                delta=-1,
                reason=ReasonCode.LOST,
                actor=SYSTEM,
            )
            change_holds_the_level.set()
            assert policy_change_is_queued.wait(30)

    def policy_change():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            policy_backend.append(cursor.fetchone()[0])
        policy_backend_known.set()
        assert change_holds_the_level.wait(30)
        try:
            set_backorder_policy(variant=variant, policy=BackorderPolicy.DENY)
        finally:
            policy_change_finished.set()

    def watcher():
        try:
            assert change_holds_the_level.wait(30)
            assert policy_backend_known.wait(30)
            for _ in range(500):
                if policy_change_finished.is_set() or backend_waits_for_a_lock(policy_backend[0]):
                    break
                time.sleep(0.02)
        finally:
            # Never leave the stock change waiting: on any failure here, let it commit.
            policy_change_is_queued.set()

    results = race([stock_change, policy_change, watcher])

    assert errors_of(results) == []
    assert Variant.objects.get(pk=variant.pk).backorders == BackorderPolicy.DENY
    level.refresh_from_db()
    assert (level.on_hand, level.is_backorder_allowed) == (4, False)
    verify_ledger_clean()
    verify_ledger_chain()


def test_backorder_policy_changes_racing_reservations_keep_every_level_in_step(
    verify_ledger_clean, verify_ledger_chain
):
    variant = VariantFactory(backorders=BackorderPolicy.ALLOW)
    warehouses = [WarehouseFactory(), WarehouseFactory()]
    levels = [stocked(variant, warehouse, 3) for warehouse in warehouses]

    def hold_and_let_go(warehouse):
        def step(_):
            reserve = LevelChange(
                variant=variant,
                warehouse=warehouse,
                kind=MovementKind.RESERVE,
                reason=ReasonCode.ORDER,
                delta_reserved=2,
            )
            try:
                apply_change(reserve, actor=SYSTEM, source=MovementSource.ORDER)
            except InsufficientStock:
                return "refused"
            release = LevelChange(
                variant=variant,
                warehouse=warehouse,
                kind=MovementKind.RELEASE,
                reason=ReasonCode.ORDER,
                delta_reserved=-2,
            )
            apply_change(release, actor=SYSTEM, source=MovementSource.ORDER)
            return "held"

        return repeat(ROUNDS, step)

    def toggle_policy(round_number: int):
        policy = BackorderPolicy.DENY if round_number % 2 == 0 else BackorderPolicy.ALLOW
        try:
            set_backorder_policy(variant=Variant.objects.get(pk=variant.pk), policy=policy)
        except InsufficientStock:
            return "refused"
        return policy

    tasks = [hold_and_let_go(warehouses[n % 2]) for n in range(6)]
    tasks += [repeat(ROUNDS * 2, toggle_policy)] * 2

    results = race(tasks)

    assert errors_of(results) == []
    held = sum(step == "held" for result in results[:6] for step in result.value)
    policy = Variant.objects.get(pk=variant.pk).backorders
    flags = set(StockLevel.objects.filter(variant=variant).values_list("is_backorder_allowed"))
    assert flags == {(policy != BackorderPolicy.DENY,)}
    assert [balance_of(level).reserved for level in levels] == [0, 0]
    assert sum(balance_of(level).version for level in levels) == 2 + 2 * held
    verify_ledger_clean()
    verify_ledger_chain()


# --- Absolute figures and new levels under contention -------------------------------------


def test_racing_safety_stock_settings_leave_the_last_one_written(
    verify_ledger_clean, verify_ledger_chain
):
    variant, warehouse = VariantFactory(), WarehouseFactory()
    level = stocked(variant, warehouse, 100)

    def set_to(quantity: int):
        return repeat(
            ROUNDS,
            lambda round_number: set_safety_stock(
                variant=variant,
                warehouse=warehouse,
                quantity=(quantity + round_number) % 40,
                actor=SYSTEM,
            ),
        )

    results = race([set_to(n * 5) for n in range(THREADS)])

    assert errors_of(results) == []
    last = StockMovement.objects.filter(level=level).order_by("-pk").first()
    assert balance_of(level).safety_stock == last.safety_stock_after
    verify_ledger_clean()
    verify_ledger_chain()


def test_first_receipts_racing_to_create_a_level_create_exactly_one(
    verify_ledger_clean, verify_ledger_chain
):
    variant, warehouse = VariantFactory(), WarehouseFactory()

    def receive_one():
        return receive_stock(variant=variant, warehouse=warehouse, quantity=1, actor=SYSTEM)

    results = race([receive_one] * THREADS)

    assert errors_of(results) == []
    (level,) = StockLevel.objects.filter(variant=variant, warehouse=warehouse)
    assert balance_of(level) == Balance(on_hand=THREADS, version=THREADS)
    verify_ledger_clean()
    verify_ledger_chain()


def test_counts_racing_adjustments_each_set_exactly_the_counted_figure(
    verify_ledger_clean, verify_ledger_chain
):
    variant, warehouse = VariantFactory(), WarehouseFactory()
    level = stocked(variant, warehouse, 50)

    def counter(figure: int):
        return repeat(
            ROUNDS,
            lambda round_number: count_stock(
                variant=variant,
                warehouse=warehouse,
                counted=figure + round_number,
                actor=SYSTEM,
            ),
        )

    def nudger(delta: int):
        return repeat(
            ROUNDS,
            lambda _: adjust_stock(
                variant=variant,
                warehouse=warehouse,
                delta=delta,
                reason=ReasonCode.CORRECTION,
                actor=SYSTEM,
            ),
        )

    tasks = [counter(40), counter(60), nudger(1), nudger(-1)]

    results = race(tasks)

    assert errors_of(results) == []
    counts = StockMovement.objects.filter(level=level, kind=MovementKind.COUNT)
    # Each applied count left exactly its figure; the chain check below proves each variance
    # was taken from the balance the count found under the lock, not a stale read.
    counted_figures = [
        result.value[index].change.count
        for result in results[:2]
        for index in range(ROUNDS)
        if result.value[index].movement is not None
    ]
    assert sorted(counts.values_list("on_hand_after", flat=True)) == sorted(counted_figures)
    verify_ledger_clean()
    verify_ledger_chain()


def test_operators_forcing_a_status_at_once_leave_exactly_one_open_override():
    variant = VariantFactory()

    def force(label: str):
        return lambda: force_status(
            variant=variant,
            status="out_of_stock",
            reason=f"recall noticed by {label}",
            actor=Actor(kind="user", label=label),
        )

    results = race([force(f"operator-{n}") for n in range(THREADS)])

    assert errors_of(results) == []
    overrides = ForcedStatus.objects.filter(variant=variant)
    assert overrides.count() == THREADS
    assert overrides.filter(ended_at__isnull=True).count() == 1
