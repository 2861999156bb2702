"""Writes to warehouses and sales channels. Each public function is one transaction.

Neither is ever deleted (stock history refers to them): they are retired with
`is_active=False`. Input is checked by the caller (the API's serializers, the admin's
forms); these functions refuse only what would break a rule the database cannot see.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction

from warehouses.models import ChannelWarehouse, SalesChannel, Warehouse

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
    }
)


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
    """
    _require_known_fields(changes, WAREHOUSE_FIELDS)
    with transaction.atomic():
        locked = Warehouse.objects.select_for_update(no_key=True).get(pk=warehouse.pk)
        for name, value in changes.items():
            setattr(locked, name, value)
        if changes:
            locked.save(update_fields=sorted(changes))
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
    the other and the links always end up exactly as one caller listed them.
    """
    _require_known_fields(changes, CHANNEL_FIELDS)
    if links is not None:
        _require_valid_links(links)
    with transaction.atomic():
        locked = SalesChannel.objects.select_for_update(no_key=True).get(pk=channel.pk)
        for name, value in changes.items():
            setattr(locked, name, value)
        if changes:
            locked.save(update_fields=sorted(changes))
        if links is not None:
            _replace_links(locked, links)
    return locked


def set_channel_links(*, channel: SalesChannel, links: Sequence[ChannelLink]) -> None:
    """Make the channel sell from exactly these warehouses with these priorities.

    One transaction under the channel's row lock. Links that stay keep their row (only the
    priority changes), so nothing reading them sees a moment with no link at all.
    """
    update_channel(channel=channel, links=links)


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
