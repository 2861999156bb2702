"""Listening on the channel layer as a consumer would: join a group, drain what arrived.

The `layer` fixture (tests/stock/conftest.py) gives the layer, emptied."""

import asyncio

from asgiref.sync import async_to_sync


def listen(layer, group: str) -> str:
    """A fresh channel that has joined `group`, as a consumer would on connect."""
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(group, channel)
    return channel


def received(layer, channel: str) -> list[dict]:
    """Every message waiting on `channel`, in order; [] when nothing arrives."""

    async def drain() -> list[dict]:
        messages = []
        while True:
            try:
                messages.append(await asyncio.wait_for(layer.receive(channel), timeout=0.05))
            except TimeoutError:
                return messages

    return async_to_sync(drain)()


def pushed(level, version: int) -> dict:
    return {
        "level_id": level.pk,
        "variant_id": level.variant_id,
        "warehouse_id": level.warehouse_id,
        "version": version,
    }
