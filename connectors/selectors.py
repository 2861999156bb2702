"""Reads for the sync engine: what the hub wants each store to hold, and connector health.

`desired_push_items` is the one definition of "what the hub pushes" (see the shared
design): the push worker, drift detection on inbound snapshots and reconciliation all
compare against it. It reads current state through `stock.selectors`, so a value computed
later always includes every change committed before it. Nothing here writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, Sum
from django.utils import timezone

from connectors.base import PushItem, RemoteStatus
from connectors.models import (
    Connector,
    InboxEvent,
    InboxState,
    LocationMapping,
    OutboxItem,
    OutboxState,
    Ownership,
    SkuMapping,
)
from connectors.registry import PushMode, kind_spec
from stock.allocation import allocated_shares
from stock.models import Allocation, StockLevel, StockStatus, Variant
from stock.selectors import (
    channel_salable_many,
    expired_held_quantity,
    forced_status_for,
    open_forced_statuses_by_scope,
)

# Keyed by the StockStatus values, looked up with the plain strings a status is stored as.
_STATUS: dict[str, RemoteStatus] = {
    StockStatus.IN_STOCK: RemoteStatus.IN_STOCK,
    StockStatus.LOW_STOCK: RemoteStatus.IN_STOCK,
    StockStatus.OUT_OF_STOCK: RemoteStatus.OUT_OF_STOCK,
    StockStatus.BACKORDER: RemoteStatus.BACKORDER,
}


def remote_status(status: str | None) -> RemoteStatus | None:
    return _STATUS.get(status) if status else None


def location_store_owned(
    connector: Connector, locations: dict[str, LocationMapping], location: str
) -> bool:
    """Whether the store owns the stock at `location` (its mapping overrides the connector)."""
    mapping = locations.get(location)
    if mapping is not None and mapping.is_store_owned is not None:
        return mapping.is_store_owned
    return connector.ownership == Ownership.STORE


def location_mappings(connector: Connector) -> dict[str, LocationMapping]:
    return {
        mapping.location: mapping
        for mapping in LocationMapping.objects.filter(connector=connector).select_related(
            "warehouse"
        )
    }


class MissingChannel(Exception):
    """The connector pushes a channel's salable quantity but names no channel."""


def desired_push_items(
    connector: Connector, mappings: Sequence[SkuMapping]
) -> dict[int, list[PushItem]]:
    """Per SKU mapping (by pk), the values the hub wants the store to hold, right now.

    Locations whose stock the store owns are left out: the store's snapshots are the
    truth there, and a push would overwrite an edit the hub has not heard of yet.
    """
    if not mappings:
        return {}
    spec = kind_spec(connector.kind)
    locations = location_mappings(connector)
    variants = [mapping.variant for mapping in mappings]
    if spec.push_mode == PushMode.PER_SOURCE:
        return _per_source(connector, mappings, variants, locations)
    if connector.channel is None:
        raise MissingChannel(
            f"Connector {connector.name} pushes a channel's salable quantity but has no channel."
        )
    salable = channel_salable_many(connector.channel, variants)
    result: dict[int, list[PushItem]] = {}
    per_location = spec.push_mode == PushMode.CHANNEL_PER_LOCATION and bool(locations)
    for mapping in mappings:
        figures = salable[mapping.variant_id]
        status = remote_status(figures.status)
        forced = remote_status(figures.forced_status)
        items = []
        if per_location:
            counted = {item.warehouse_code: item.counted for item in figures.breakdown}
            targets = [
                (location, counted.get(location_mapping.warehouse.code, 0))
                for location, location_mapping in sorted(locations.items())
            ]
        else:
            targets = [("", figures.salable)]
        if mapping.is_managed and forced == RemoteStatus.OUT_OF_STOCK:
            # A store counting the item derives its status from the quantity: offering
            # nothing is the only way it shows the forced out-of-stock.
            targets = [(location, 0) for location, _ in targets]
        for location, quantity in targets:
            if location_store_owned(connector, locations, location):
                continue
            items.append(
                _item(mapping, location=location, quantity=quantity, status=status, forced=forced)
            )
        result[mapping.pk] = items
    return result


def _item(
    mapping: SkuMapping,
    *,
    location: str,
    quantity: int,
    status: RemoteStatus | None,
    forced: RemoteStatus | None,
    always_status: bool = False,
) -> PushItem:
    return PushItem(
        sku=mapping.variant.sku,
        remote_id=mapping.remote_id,
        quantity=max(int(quantity), 0),
        location=location,
        parent_id=mapping.parent_id,
        is_managed=mapping.is_managed,
        # Stores derive the status of managed items from the quantity themselves.
        status=status if (always_status or not mapping.is_managed) else None,
        forced_status=forced,
    )


def _per_source(
    connector: Connector,
    mappings: Sequence[SkuMapping],
    variants: list[Variant],
    locations: dict[str, LocationMapping],
) -> dict[int, list[PushItem]]:
    pushed = {
        location: location_mapping
        for location, location_mapping in locations.items()
        if not location_store_owned(connector, locations, location)
    }
    warehouse_ids = [location_mapping.warehouse_id for location_mapping in pushed.values()]
    levels = {
        (level.variant_id, level.warehouse_id): level
        for level in StockLevel.objects.filter(variant__in=variants, warehouse_id__in=warehouse_ids)
    }
    now = timezone.now()
    expired = expired_held_quantity([level.pk for level in levels.values()], now=now)
    own_held = own_channel_held(connector, levels.values(), now=now)
    shares = _channel_shares(connector, levels.values(), expired, now=now)
    forced = open_forced_statuses_by_scope(variant.pk for variant in variants)
    result: dict[int, list[PushItem]] = {}
    for mapping in mappings:
        variant = mapping.variant
        override = forced_status_for(forced, variant.pk, connector.channel_id)
        items = []
        for location, location_mapping in sorted(pushed.items()):
            level = levels.get((variant.pk, location_mapping.warehouse_id))
            quantity = 0
            if level is not None and location_mapping.warehouse.is_active:
                available = level.available + expired.get(level.pk, 0)
                available = shares.get((variant.pk, level.warehouse_id), available)
                # Only what the hub holds for this channel's orders is added back, so the
                # shortfall of a short Magento order stays subtracted by Magento's own
                # reservation (the whole order): subtracting it here too would count it
                # twice and offer less than the hub may sell.
                quantity = max(available + own_held.get(level.pk, 0), 0)
            if not variant.manage_stock or quantity > 0:
                status = RemoteStatus.IN_STOCK
            else:
                status = (
                    RemoteStatus.BACKORDER
                    if variant.allows_backorders
                    else RemoteStatus.OUT_OF_STOCK
                )
            items.append(
                _item(
                    mapping,
                    location=location,
                    quantity=quantity,
                    status=status,
                    forced=remote_status(override.status) if override else None,
                    always_status=True,
                )
            )
        result[mapping.pk] = items
    return result


def _channel_shares(
    connector: Connector, levels: Iterable[StockLevel], expired: dict[int, int], *, now: datetime
) -> dict[tuple[int, int], int]:
    """The connector channel's share where a source it shares with other channels is split
    (stock.allocation): Magento is then told only that share, plus its own holds."""
    channel = connector.channel
    if channel is None or not channel.is_active:
        return {}
    return allocated_shares(
        channel_id=channel.pk,
        available={
            (level.variant_id, level.warehouse_id): level.available + expired.get(level.pk, 0)
            for level in levels
        },
        now=now,
    )


def own_channel_held(
    connector: Connector, levels: Iterable[StockLevel], *, now: datetime | None = None
) -> dict[int, int]:
    """Units held on each level for the connector channel's open, unexpired orders."""
    level_ids = [level.pk for level in levels]
    if connector.channel_id is None or not level_ids:
        return {}
    now = now or timezone.now()
    rows = (
        Allocation.objects.filter(
            level_id__in=level_ids,
            status=Allocation.Status.HELD,
            line__order__channel_id=connector.channel_id,
        )
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .values("level_id")
        .annotate(quantity=Sum("quantity"))
    )
    return {row["level_id"]: row["quantity"] for row in rows}


def is_confirmed(mapping: SkuMapping, item: PushItem) -> bool:
    """The store last confirmed exactly this value: pushing it again would change nothing."""
    location = item.location
    if item.is_managed and mapping.last_confirmed.get(location) != item.quantity:
        return False
    confirmed = mapping.last_confirmed_status.get(location) or {}
    return confirmed.get("status") == _text(item.status) and confirmed.get(
        "forced_status"
    ) == _text(item.forced_status)


def status_record(item: PushItem) -> dict[str, str | None]:
    return {"status": _text(item.status), "forced_status": _text(item.forced_status)}


def _text(status: RemoteStatus | None) -> str | None:
    return str(status) if status is not None else None


# --- Health -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConnectorHealth:
    pending_pushes: int
    due_pushes: int
    dead_pushes: int
    waiting_events: int
    dead_events: int


def connector_health(connector: Connector) -> ConnectorHealth:
    """Queue depths for the sync log (admin, API)."""
    now = timezone.now()
    outbox = OutboxItem.objects.filter(connector=connector)
    inbox = InboxEvent.objects.filter(connector=connector)
    return ConnectorHealth(
        pending_pushes=outbox.filter(state=OutboxState.PENDING).count(),
        due_pushes=outbox.filter(state=OutboxState.PENDING, due_at__lte=now).count(),
        dead_pushes=outbox.filter(state=OutboxState.DEAD).count(),
        waiting_events=inbox.filter(state__in=[InboxState.RECEIVED, InboxState.FAILED]).count(),
        dead_events=inbox.filter(state=InboxState.DEAD).count(),
    )
