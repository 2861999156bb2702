"""Outbox rows: changes that must reach a store, written in the stock change's transaction."""

from collections.abc import Iterable


def enqueue_stock_pushes(variant_ids: Iterable[int]) -> None:
    """Mark these variants as due for a push to every connector that maps them.

    Runs inside the caller's transaction (see `stock.events.stock_changed_in_transaction`).
    Until the connector tables exist there is nothing to enqueue.
    """
