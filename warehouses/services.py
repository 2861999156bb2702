"""Writes to warehouses and sales channels. Each public function is one transaction.

Neither is ever deleted (stock history refers to them): they are retired with
`is_active=False`. Input is checked by the caller (the API's serializers, the admin's
forms); these functions refuse only what would break a rule the database cannot see.

What a channel may sell depends on its settings, its links and whether its warehouses are
active. Anything cached per channel (the storefront's availability answers) keys its
entries with the channel's cache generation, which these functions bump after a commit
that changes one of those: the old entries become unreachable at once and expire on their
own. (This app knows nothing about items, so it cannot name the entries to delete; and a
cache cannot delete "every key of channel 7" cheaply.)
"""

import logging
import secrets
from collections.abc import Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from functools import partial

from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction

from warehouses.events import selling_changed_in_transaction
from warehouses.models import ChannelWarehouse, SalesChannel, Warehouse

logger = logging.getLogger(__name__)

WAREHOUSE_FIELDS = frozenset(
    {
        "name",
        "address",
        "latitude",
        "longitude",
        "timezone",
        "lead_time_days",
        "daily_dispatch_capacity",
        "is_active",
    }
)
CHANNEL_FIELDS = frozenset(
    {
        "name",
        "kind",
        "safety_buffer",
        "max_salable_quantity",
        "source_selection",
        "hold_minutes",
        "is_active",
        "allocation_threshold",
        "allocation_minimum",
    }
)
# The settings that change what a channel may sell (source_selection only picks where an
# order is held, not how much).
CHANNEL_SALABLE_FIELDS = frozenset(
    {
        "safety_buffer",
        "max_salable_quantity",
        "is_active",
        "allocation_threshold",
        "allocation_minimum",
    }
)
ALLOCATION_FIELDS = frozenset({"allocation_threshold", "allocation_minimum"})


@dataclass(frozen=True, slots=True)
class ChannelLink:
    """One stock source of a channel: it sells from `warehouse`; lower priority goes first."""

    warehouse: Warehouse
    priority: int


def create_warehouse(*, code: str, name: str, **details: object) -> Warehouse:
    _require_known_fields(details, WAREHOUSE_FIELDS)
    with transaction.atomic():
        return Warehouse.objects.create(code=code, name=name, **details)


def update_warehouse(*, warehouse: Warehouse, **changes: object) -> Warehouse:
    """Change a warehouse's details; `is_active=False` retires it (its history stays).

    Takes the row FOR NO KEY UPDATE, which stock writes referring to it do not wait for.
    A change of `is_active` bumps the cache generation of every channel selling from it,
    after commit.
    """
    _require_known_fields(changes, WAREHOUSE_FIELDS)
    with transaction.atomic():
        locked = Warehouse.objects.select_for_update(no_key=True).get(pk=warehouse.pk)
        for name, value in changes.items():
            setattr(locked, name, value)
        if changes:
            locked.save(update_fields=sorted(changes))
        if "is_active" in changes:
            channel_ids = ChannelWarehouse.objects.filter(warehouse=locked).values_list(
                "channel_id", flat=True
            )
            _bump_on_commit(list(channel_ids))
            selling_changed_in_transaction(list(channel_ids), warehouse_ids=[locked.pk])
    return locked


def create_channel(
    *, code: str, name: str, links: Sequence[ChannelLink] = (), **details: object
) -> SalesChannel:
    """Create a channel and its stock-source links together."""
    _require_known_fields(details, CHANNEL_FIELDS)
    _require_valid_links(links)
    with transaction.atomic():
        channel = SalesChannel.objects.create(code=code, name=name, **details)
        ChannelWarehouse.objects.bulk_create(
            ChannelWarehouse(channel=channel, warehouse=link.warehouse, priority=link.priority)
            for link in links
        )
    return channel


def update_channel(
    *, channel: SalesChannel, links: Sequence[ChannelLink] | None = None, **changes: object
) -> SalesChannel:
    """Change a channel's settings and, when `links` is given, replace its links, together.

    Locks the channel row first, so concurrent edits of the same channel apply one after
    the other and the links always end up exactly as one caller listed them. A change of
    what the channel may sell (links, buffer, cap, active flag, allocation) bumps its cache
    generation after commit and queues its pushes; where allocation splits a warehouse it
    shares, the channels sharing it are changed too, and treated alike.
    """
    _require_known_fields(changes, CHANNEL_FIELDS)
    if links is not None:
        _require_valid_links(links)
    with transaction.atomic():
        locked = SalesChannel.objects.select_for_update(no_key=True).get(pk=channel.pk)
        shared_before = _shared_warehouse_ids(locked)
        for name, value in changes.items():
            setattr(locked, name, value)
        if changes:
            locked.save(update_fields=sorted(changes))
        if links is not None:
            _replace_links(locked, links)
        if links is not None or CHANNEL_SALABLE_FIELDS & set(changes):
            channel_ids = [
                locked.pk,
                *_allocation_partners(
                    locked,
                    shared_before | _shared_warehouse_ids(locked),
                    allocation_changed=bool(ALLOCATION_FIELDS & set(changes)),
                ),
            ]
            _bump_on_commit(channel_ids)
            selling_changed_in_transaction(channel_ids)
    return locked


def _shared_warehouse_ids(channel: SalesChannel) -> set[int]:
    return set(
        ChannelWarehouse.objects.filter(channel=channel).values_list("warehouse_id", flat=True)
    )


def _allocation_partners(
    channel: SalesChannel, warehouse_ids: set[int], *, allocation_changed: bool
) -> list[int]:
    """The other channels selling from these warehouses, when the change can move their
    shares: the channel's allocation settings changed, or one of them has allocation on."""
    rows = list(
        ChannelWarehouse.objects.filter(warehouse_id__in=warehouse_ids)
        .exclude(channel=channel)
        .values_list("channel_id", "channel__allocation_threshold")
    )
    is_allocated = channel.allocation_threshold is not None or any(
        threshold is not None for _, threshold in rows
    )
    if not (allocation_changed or is_allocated):
        return []
    return sorted({channel_id for channel_id, _ in rows})


def set_channel_links(*, channel: SalesChannel, links: Sequence[ChannelLink]) -> None:
    """Make the channel sell from exactly these warehouses with these priorities.

    One transaction under the channel's row lock. Links that stay keep their row (only the
    priority changes), so nothing reading them sees a moment with no link at all.
    """
    update_channel(channel=channel, links=links)


# --- Per-channel cache generation ----------------------------------------------------------


@transaction.atomic
def set_user_scope(
    *,
    user: User,
    warehouses: Iterable[Warehouse],
    channels: Iterable[SalesChannel],
) -> None:
    """Where a user acts (warehouses.access reads it): every assignment of the user at once."""
    user.assigned_warehouses.set(warehouses)
    user.assigned_channels.set(channels)


@transaction.atomic
def set_assigned_users(*, target: Warehouse | SalesChannel, users: Iterable[User]) -> None:
    """Who acts at one warehouse or on one channel; the same scope seen from its side."""
    target.assigned_users.set(users)


def _generation_key(channel_id: int) -> str:
    return f"channel-generation:{channel_id}"


def channel_cache_generation(channel_id: int) -> int:
    """The channel's current cache generation: per-channel cache keys must include it.

    A missing counter (never read, or evicted) starts at a random 62-bit number, so a
    restart cannot land on a generation whose entries are still in the cache.
    """
    key = _generation_key(channel_id)
    generation = cache.get(key)
    if generation is None:
        fresh = secrets.randbits(62)
        # add, not set: of two first readers at once, both use the one that got there first.
        cache.add(key, fresh, timeout=None)
        generation = cache.get(key, fresh)
    return generation


def known_channel_cache_generations(channel_ids: Iterable[int]) -> dict[int, int]:
    """The generations that exist, in one round trip; a channel without one has no entries."""
    keys = {_generation_key(channel_id): channel_id for channel_id in channel_ids}
    return {keys[key]: generation for key, generation in cache.get_many(list(keys)).items()}


def bump_channel_cache_generation(channel_ids: Iterable[int]) -> None:
    """Make everything cached for these channels unreachable (it then expires on its own).

    For callers that change what a channel may sell outside these services; call it after
    the change commits.
    """
    for channel_id in channel_ids:
        # No counter (ValueError): nothing reachable is cached for the channel, and the next
        # reader starts a fresh generation.
        with suppress(ValueError):
            cache.incr(_generation_key(channel_id))


def _bump_on_commit(channel_ids: list[int]) -> None:
    if channel_ids:
        transaction.on_commit(partial(_bump_quietly, channel_ids))


def _bump_quietly(channel_ids: list[int]) -> None:
    # The change is committed by now: a cache that cannot be reached only leaves the old
    # answers for their few-second TTL and must not turn the write into an error. (Not
    # on_commit(robust=True): Django 5.2 then fails on logging a partial's error, as it
    # reads the callback's __qualname__.)
    try:
        bump_channel_cache_generation(channel_ids)
    except Exception:
        logger.exception("Could not bump the cache generation of channels %s", channel_ids)


def _replace_links(channel: SalesChannel, links: Sequence[ChannelLink]) -> None:
    wanted = {link.warehouse.pk: link.priority for link in links}
    existing = {
        link.warehouse_id: link for link in ChannelWarehouse.objects.filter(channel=channel)
    }
    ChannelWarehouse.objects.filter(
        pk__in=[link.pk for warehouse_id, link in existing.items() if warehouse_id not in wanted]
    ).delete()
    for warehouse_id, priority in wanted.items():
        link = existing.get(warehouse_id)
        if link is not None and link.priority != priority:
            link.priority = priority
            link.save(update_fields=["priority"])
    ChannelWarehouse.objects.bulk_create(
        ChannelWarehouse(channel=channel, warehouse_id=warehouse_id, priority=priority)
        for warehouse_id, priority in wanted.items()
        if warehouse_id not in existing
    )


def _require_valid_links(links: Sequence[ChannelLink]) -> None:
    seen: set[int] = set()
    for index, link in enumerate(links):
        if link.priority < 1:
            raise ValidationError(f"Link {index}: priority must be at least 1.")
        if link.warehouse.pk in seen:
            raise ValidationError(f"Link {index}: warehouse {link.warehouse.code} is listed twice.")
        seen.add(link.warehouse.pk)


def _require_known_fields(given: dict[str, object], allowed: frozenset[str]) -> None:
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise TypeError(f"Unknown field(s): {', '.join(unknown)}.")
