"""Stock's reactions to a change are registrations: stock names none of the apps above it."""

import pytest

from connectors.outbox import enqueue_stock_pushes, may_enqueue
from stock import events
from stock.events import (
    StockChanged,
    on_stock_changed_in_transaction,
    on_stock_committed,
    publish_stock_changed,
    stock_change_needs_transaction,
    stock_changed_in_transaction,
)


@pytest.fixture
def no_reactions(monkeypatch):
    """The registries as an app above stock finds them before registering anything."""
    monkeypatch.setattr(events, "_in_transaction", [])
    monkeypatch.setattr(events, "_write_checks", [])
    monkeypatch.setattr(events, "_committed", [])


def test_connectors_register_their_outbox_writes_when_the_apps_are_ready():
    assert enqueue_stock_pushes in events._in_transaction
    assert may_enqueue in events._write_checks


@pytest.mark.usefixtures("no_reactions")
def test_every_reaction_in_the_transaction_sees_every_variant_even_from_a_generator():
    first, second = [], []
    on_stock_changed_in_transaction(lambda ids: first.extend(ids))
    on_stock_changed_in_transaction(lambda ids: second.extend(ids))

    stock_changed_in_transaction(variant_id for variant_id in (3, 1))

    assert first == [3, 1]
    assert second == [3, 1]


@pytest.mark.usefixtures("no_reactions")
def test_a_reaction_registered_twice_runs_once():
    calls = []

    def reaction(ids):
        calls.append(list(ids))

    on_stock_changed_in_transaction(reaction)
    on_stock_changed_in_transaction(reaction)
    stock_changed_in_transaction([7])

    assert calls == [[7]]


@pytest.mark.usefixtures("no_reactions")
def test_a_change_needs_the_transaction_only_while_some_reaction_may_write():
    answers = {"may_write": False}
    on_stock_changed_in_transaction(lambda ids: None, may_write=lambda: answers["may_write"])

    before = stock_change_needs_transaction()
    answers["may_write"] = True
    after = stock_change_needs_transaction()

    assert before is False
    assert after is True


@pytest.mark.usefixtures("no_reactions")
def test_without_registrations_a_change_needs_no_transaction():
    assert stock_change_needs_transaction() is False


@pytest.mark.usefixtures("no_reactions")
def test_committed_reactions_run_after_stocks_own_and_a_failure_stops_none(settings):
    settings.HUB_PUBLISH_IN_BACKGROUND = False
    seen = []

    def failing(changes):
        raise RuntimeError("this reaction is broken")

    on_stock_committed(failing)
    on_stock_committed(lambda changes: seen.extend(changes))
    change = StockChanged(level_id=1, variant_id=2, warehouse_id=3, version=4)

    publish_stock_changed([change])

    assert seen == [change]
