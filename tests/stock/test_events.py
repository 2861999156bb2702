"""`stock.changed` reaches the warehouse, variant and feed groups, and only after commit."""

import logging

import pytest
from django.db import transaction

from stock.errors import InsufficientStock
from stock.events import (
    FEED_GROUP,
    MAX_VARIANT_PUSHES,
    StockChanged,
    publish_failures,
    publish_order_changed,
    publish_status_forced,
    publish_stock_changed,
    variant_group,
    warehouse_group,
)
from stock.models import MovementKind, MovementSource, ReasonCode
from stock.services import (
    LevelChange,
    adjust_stock,
    apply_changes,
    clear_forced_status,
    count_stock,
    force_status,
    receive_stock,
)
from tests.stock.factories import SYSTEM, Balance, VariantFactory, balance_of, stocked
from tests.stock.layer import listen, pushed, received
from tests.warehouses.factories import WarehouseFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def variant():
    return VariantFactory()


@pytest.fixture
def warehouse():
    return WarehouseFactory()


def test_committed_change_is_pushed_to_its_warehouse_variant_and_feed_groups(
    layer, variant, warehouse, django_capture_on_commit_callbacks
):
    by_warehouse = listen(layer, warehouse_group(warehouse.pk))
    by_variant = listen(layer, variant_group(variant.pk))
    feed = listen(layer, FEED_GROUP)

    with django_capture_on_commit_callbacks(execute=True):
        outcome = receive_stock(variant=variant, warehouse=warehouse, quantity=3, actor=SYSTEM)

    expected = [{"type": "stock.changed", "levels": [pushed(outcome.level, 1)]}]
    assert received(layer, by_warehouse) == expected
    assert received(layer, by_variant) == expected
    assert received(layer, feed) == expected


def test_push_carries_the_levels_new_version(
    layer, variant, warehouse, django_capture_on_commit_callbacks
):
    level = stocked(variant, warehouse, 3)
    feed = listen(layer, FEED_GROUP)

    with django_capture_on_commit_callbacks(execute=True):
        adjust_stock(
            variant=variant, warehouse=warehouse, delta=-1, reason=ReasonCode.LOST, actor=SYSTEM
        )
    with django_capture_on_commit_callbacks(execute=True):
        adjust_stock(
            variant=variant, warehouse=warehouse, delta=-1, reason=ReasonCode.LOST, actor=SYSTEM
        )

    assert [message["levels"] for message in received(layer, feed)] == [
        [pushed(level, 2)],
        [pushed(level, 3)],
    ]


def test_other_warehouses_and_variants_hear_nothing(
    layer, variant, warehouse, django_capture_on_commit_callbacks
):
    elsewhere = listen(layer, warehouse_group(WarehouseFactory().pk))
    other_variant = listen(layer, variant_group(VariantFactory().pk))

    with django_capture_on_commit_callbacks(execute=True):
        receive_stock(variant=variant, warehouse=warehouse, quantity=3, actor=SYSTEM)

    assert received(layer, elsewhere) == []
    assert received(layer, other_variant) == []


def test_batch_sends_each_warehouse_its_own_levels_and_the_feed_all_of_them(
    layer, variant, django_capture_on_commit_callbacks
):
    north, south = WarehouseFactory(), WarehouseFactory()
    north_channel = listen(layer, warehouse_group(north.pk))
    south_channel = listen(layer, warehouse_group(south.pk))
    feed = listen(layer, FEED_GROUP)
    changes = [
        LevelChange(
            variant=variant,
            warehouse=warehouse,
            kind=MovementKind.RECEIPT,
            reason=ReasonCode.PURCHASE_ORDER,
            delta_on_hand=2,
        )
        for warehouse in (north, south)
    ]

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        north_outcome, south_outcome = apply_changes(
            changes, actor=SYSTEM, source=MovementSource.CSV
        )

    assert len(callbacks) == 1
    assert received(layer, north_channel) == [
        {"type": "stock.changed", "levels": [pushed(north_outcome.level, 1)]}
    ]
    assert received(layer, south_channel) == [
        {"type": "stock.changed", "levels": [pushed(south_outcome.level, 1)]}
    ]
    (message,) = received(layer, feed)
    assert sorted(message["levels"], key=lambda item: item["level_id"]) == sorted(
        [pushed(north_outcome.level, 1), pushed(south_outcome.level, 1)],
        key=lambda item: item["level_id"],
    )


def test_two_changes_to_one_level_in_a_batch_push_it_once_at_its_final_version(
    layer, variant, warehouse, django_capture_on_commit_callbacks
):
    level = stocked(variant, warehouse, 3)
    feed = listen(layer, FEED_GROUP)
    changes = [
        LevelChange(
            variant=variant,
            warehouse=warehouse,
            kind=MovementKind.ADJUSTMENT,
            reason=ReasonCode.CORRECTION,
            delta_on_hand=delta,
        )
        for delta in (4, -1)
    ]

    with django_capture_on_commit_callbacks(execute=True):
        apply_changes(changes, actor=SYSTEM, source=MovementSource.CSV)

    assert received(layer, feed) == [{"type": "stock.changed", "levels": [pushed(level, 3)]}]


def test_refused_change_publishes_nothing(
    layer, variant, warehouse, django_capture_on_commit_callbacks
):
    level = stocked(variant, warehouse, 3)
    feed = listen(layer, FEED_GROUP)

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(InsufficientStock),
    ):
        adjust_stock(
            variant=variant, warehouse=warehouse, delta=-4, reason=ReasonCode.LOST, actor=SYSTEM
        )

    assert callbacks == []
    assert received(layer, feed) == []
    assert balance_of(level) == Balance(on_hand=3, version=1)


def test_count_that_matches_publishes_nothing(
    layer, variant, warehouse, django_capture_on_commit_callbacks
):
    stocked(variant, warehouse, 3)
    feed = listen(layer, FEED_GROUP)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        count_stock(variant=variant, warehouse=warehouse, counted=3, actor=SYSTEM)

    assert callbacks == []
    assert received(layer, feed) == []


def test_replay_publishes_nothing(layer, variant, warehouse, django_capture_on_commit_callbacks):
    receive_stock(variant=variant, warehouse=warehouse, quantity=3, actor=SYSTEM, reference="r1")
    feed = listen(layer, FEED_GROUP)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        receive_stock(
            variant=variant, warehouse=warehouse, quantity=3, actor=SYSTEM, reference="r1"
        )

    assert callbacks == []
    assert received(layer, feed) == []


def test_large_batch_skips_variant_pushes_but_still_tells_the_warehouse_and_feed(
    layer, warehouse, django_capture_on_commit_callbacks
):
    variants = [VariantFactory() for _ in range(MAX_VARIANT_PUSHES + 1)]
    by_variant = listen(layer, variant_group(variants[0].pk))
    by_warehouse = listen(layer, warehouse_group(warehouse.pk))
    feed = listen(layer, FEED_GROUP)
    changes = [
        LevelChange(
            variant=variant,
            warehouse=warehouse,
            kind=MovementKind.IMPORT,
            reason=ReasonCode.IMPORT,
            delta_on_hand=1,
        )
        for variant in variants
    ]

    with django_capture_on_commit_callbacks(execute=True):
        apply_changes(changes, actor=SYSTEM, source=MovementSource.CSV)

    assert received(layer, by_variant) == []
    assert [len(message["levels"]) for message in received(layer, by_warehouse)] == [101]
    assert [len(message["levels"]) for message in received(layer, feed)] == [101]


def test_a_failing_channel_layer_does_not_undo_or_break_the_change(
    layer, variant, warehouse, django_capture_on_commit_callbacks, monkeypatch, caplog
):
    async def broken_group_send(group, message):
        raise ConnectionError("redis went away")

    monkeypatch.setattr(layer, "group_send", broken_group_send)

    with (
        caplog.at_level(logging.ERROR, logger="stock.events"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        outcome = receive_stock(variant=variant, warehouse=warehouse, quantity=3, actor=SYSTEM)

    assert balance_of(outcome.level) == Balance(on_hand=3, version=1)
    assert [record.getMessage() for record in caplog.records] == [
        "Could not publish stock.changed for 1 levels"
    ]


def test_forcing_a_status_tells_the_variant_and_the_feed(
    layer, variant, django_capture_on_commit_callbacks
):
    by_variant = listen(layer, variant_group(variant.pk))
    feed = listen(layer, FEED_GROUP)

    with django_capture_on_commit_callbacks(execute=True):
        force_status(variant=variant, status="out_of_stock", reason="recall", actor=SYSTEM)
    with django_capture_on_commit_callbacks(execute=True):
        clear_forced_status(variant=variant, actor=SYSTEM, reason="recall over")

    expected = [{"type": "status.forced", "variant_id": variant.pk}] * 2
    assert received(layer, by_variant) == expected
    assert received(layer, feed) == expected


def test_clearing_when_nothing_is_forced_publishes_nothing(
    layer, variant, django_capture_on_commit_callbacks
):
    feed = listen(layer, FEED_GROUP)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        clear_forced_status(variant=variant, actor=SYSTEM, reason="recall over")

    assert callbacks == []
    assert received(layer, feed) == []


# --- Real transactions: nothing is pushed before the commit --------------------------------


@pytest.mark.django_db(transaction=True)
def test_change_inside_an_open_transaction_is_pushed_only_when_it_commits(
    layer, variant, warehouse
):
    feed = listen(layer, FEED_GROUP)

    with transaction.atomic():
        outcome = receive_stock(variant=variant, warehouse=warehouse, quantity=3, actor=SYSTEM)
        before_commit = received(layer, feed)

    assert before_commit == []
    assert received(layer, feed) == [
        {"type": "stock.changed", "levels": [pushed(outcome.level, 1)]}
    ]


@pytest.mark.django_db(transaction=True)
def test_change_rolled_back_by_the_caller_is_never_pushed(layer, variant, warehouse):
    feed = listen(layer, FEED_GROUP)

    with pytest.raises(RuntimeError), transaction.atomic():
        receive_stock(variant=variant, warehouse=warehouse, quantity=3, actor=SYSTEM)
        raise RuntimeError("the caller's next step failed")

    assert received(layer, feed) == []
    assert warehouse.levels.count() == 0


@pytest.fixture
def broken_layer(layer, monkeypatch):
    async def broken_group_send(group, message):
        raise ConnectionError("redis went away")

    monkeypatch.setattr(layer, "group_send", broken_group_send)
    return layer


@pytest.fixture
def clock(monkeypatch):
    """The publish-failure log's clock, moved by hand: `clock.now += 60`."""

    class Clock:
        now = 1000.0

        def __call__(self) -> float:
            return self.now

    frozen = Clock()
    monkeypatch.setattr(publish_failures, "clock", frozen)
    return frozen


def test_an_outage_logs_one_traceback_then_counts_instead_of_flooding(
    broken_layer, variant, warehouse, clock, caplog
):
    with caplog.at_level(logging.WARNING, logger="stock.events"):
        for _ in range(50):
            publish_stock_changed([StockChanged(1, variant.pk, warehouse.pk, 1)])

    assert [(record.levelname, record.exc_info is not None) for record in caplog.records] == [
        ("ERROR", True)
    ]


def test_after_the_interval_the_next_failure_logs_how_many_were_skipped(
    broken_layer, variant, warehouse, clock, caplog
):
    with caplog.at_level(logging.WARNING, logger="stock.events"):
        for _ in range(50):
            publish_stock_changed([StockChanged(1, variant.pk, warehouse.pk, 1)])
        clock.now += publish_failures.interval_seconds
        publish_stock_changed([StockChanged(1, variant.pk, warehouse.pk, 1)])
        publish_stock_changed([StockChanged(1, variant.pk, warehouse.pk, 1)])

    assert [record.getMessage() for record in caplog.records] == [
        "Could not publish stock.changed for 1 levels",
        "Could not publish stock.changed for 1 levels"
        " (again; 49 more failures like it skipped since the last log line)",
    ]
    assert caplog.records[1].levelname == "WARNING"


def test_each_kind_of_publish_failure_is_throttled_on_its_own(broken_layer, variant, clock, caplog):
    with caplog.at_level(logging.WARNING, logger="stock.events"):
        for _ in range(3):
            publish_status_forced(variant.pk)
            publish_order_changed(None, None)

    assert [record.getMessage() for record in caplog.records] == [
        f"Could not publish status.forced for variant {variant.pk}",
        "Could not publish order.changed for 1 orders",
    ]
