"""Reactions, inside the writing transaction, to a change of what channels may sell.

`warehouses` is the lowest app: the others depend on it and it imports none of them. So it
names no reaction itself; an app above it registers one in its `AppConfig.ready()` (the
connectors queue pushes to the stores that show those channels, committed with the change).
"""

from collections.abc import Callable, Sequence

SellingChanged = Callable[..., None]  # (channel_ids, *, warehouse_ids) -> None
_reactions: list[SellingChanged] = []


def on_selling_changed(reaction: SellingChanged) -> SellingChanged:
    """Register a reaction (once); it runs inside the transaction that made the change."""
    if reaction not in _reactions:
        _reactions.append(reaction)
    return reaction


def selling_changed_in_transaction(
    channel_ids: Sequence[int], *, warehouse_ids: Sequence[int] = ()
) -> None:
    for reaction in _reactions:
        reaction(channel_ids, warehouse_ids=warehouse_ids)
