"""Status propagation: a store named by a `StatusRule` owns a SKU's stock status.

When that store reports a status the hub does not show for the rule's scope, the hub sets
(or clears) its forced status through `stock.services.status`, which queues a push to
every store mapping the SKU; the push worker sends it only where the store's confirmed
value differs. The owning store is marked as already holding it, so nothing goes back
to it. Each change leaves a `StatusChange` audit row: which store, which rule, from what
to what, and why.

What "the status the store shows" means:
- a store that reports forced statuses (Magento's force_stock_status attribute): its
  forced status, None meaning "not forced" (the hub clears its own);
- any other store: the status of items it does not count (WooCommerce `manage_stock`
  off), where the status is a decision of the shop; a counted item's status follows its
  quantity and is not a decision, so it is never propagated.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import requests
from django.db.models import Q
from django.utils.dateparse import parse_datetime

from connectors.base import RemoteStatus, RemoteStock
from connectors.models import Connector, SkuMapping, StatusChange, StatusRule
from connectors.registry import build_connector
from connectors.selectors import MissingChannel, desired_push_items, remote_status
from connectors.sync.common import MappingIndex
from stock.actors import Actor
from stock.models import Variant
from stock.selectors import channel_salable_many, open_forced_statuses
from stock.services.status import clear_forced_status, force_status

logger = logging.getLogger(__name__)

# Store classes do no HTTP when only asked what they report.
_SESSION = requests.Session()
FORCEABLE = {RemoteStatus.IN_STOCK: "in_stock", RemoteStatus.OUT_OF_STOCK: "out_of_stock"}


@dataclass(frozen=True, slots=True)
class Scope:
    """Where a forced status applies: one channel, or every channel (None)."""

    channel_id: int | None
    rule: StatusRule


def owned_scopes(connector: Connector, variant_id: int, rules: Sequence[StatusRule]) -> list[Scope]:
    """The scopes of `variant_id` whose status `connector` owns, by the most specific rule:
    (SKU, channel), then (SKU, every channel), then (every SKU, channel), then (every SKU,
    every channel). A SKU-wide rule covers every channel, so a channel rule for every SKU
    does not reach that SKU."""
    specific = {rule.channel_id: rule for rule in rules if rule.variant_id == variant_id}
    general = {rule.channel_id: rule for rule in rules if rule.variant_id is None}
    scopes = []
    for channel_id in sorted(set(specific) | set(general), key=lambda value: value or 0):
        if channel_id is None:
            rule = specific.get(None) or general.get(None)
        elif channel_id in specific:
            rule = specific[channel_id]
        elif None in specific:
            continue
        else:
            rule = general[channel_id]
        if rule is not None and rule.owner_id == connector.pk:
            scopes.append(Scope(channel_id, rule))
    return scopes


def rules_involving(connector: Connector) -> list[StatusRule]:
    """Every rule that could decide a scope for a SKU this connector owns somewhere: its
    own rules, and other owners' rules for the same SKUs (which may be more specific)."""
    own = list(StatusRule.objects.filter(owner=connector))
    if not own:
        return []
    variant_ids = {rule.variant_id for rule in own if rule.variant_id is not None}
    everything = any(rule.variant_id is None for rule in own)
    others = StatusRule.objects.exclude(owner=connector)
    if not everything:
        others = others.filter(Q(variant_id__in=variant_ids) | Q(variant__isnull=True))
    return own + list(others)


@dataclass(frozen=True, slots=True)
class StoreStatus:
    """What the store shows for a SKU, as the hub would force it (None: not forced)."""

    forced: str | None
    shown: str
    locations: tuple[str, ...]
    is_derived: bool  # from an uncounted item's status, not a forced-status field


def propagate_store_statuses(
    *, connector: Connector, stock: Sequence[RemoteStock], source: str
) -> list[StatusChange]:
    """Apply the statuses `connector` reports for SKUs whose status it owns.

    Runs inside the caller's transaction (the inbound path, after the records were
    applied): stale records (older than the newest applied for their SKU and location)
    are left out. Returns the audit rows written.
    """
    rules = rules_involving(connector)
    if not rules:
        return []
    reports_forced = build_connector(connector, session=_SESSION).reports_forced_status
    index = MappingIndex.for_items(connector, stock)
    reported: dict[int, tuple[SkuMapping, StoreStatus]] = {}
    for item in stock:
        mapping = index.find(item)
        if mapping is None or _is_stale(mapping, item):
            continue
        status = _store_status(item, reports_forced=reports_forced)
        if status is None:
            continue
        previous = reported.get(mapping.variant_id)
        locations = (previous[1].locations if previous else ()) + (item.location,)
        reported[mapping.variant_id] = (
            mapping,
            StoreStatus(status.forced, status.shown, locations, status.is_derived),
        )
    changes = []
    for variant_id, (mapping, status) in sorted(reported.items()):
        for scope in owned_scopes(connector, variant_id, rules):
            change = _apply(connector, mapping, status, scope, source)
            if change is not None:
                changes.append(change)
    return changes


def _is_stale(mapping: SkuMapping, item: RemoteStock) -> bool:
    newest = mapping.location_updated_at.get(item.location)
    if item.updated_at is None or not newest:
        return False
    newest_at = parse_datetime(str(newest))
    return newest_at is not None and item.updated_at < newest_at


def record_status_replaced(
    *,
    connector: Connector,
    variant: Variant,
    store_status: RemoteStatus | None,  # None: the store forces nothing, the hub does
    hub_status: RemoteStatus | None,
    source: str,
    found_by: str,
) -> StatusChange:
    """Audit a forced status found on a store that does not own the SKU's status, before
    the hub's push replaces it there: the hub's own status is unchanged (no rule)."""
    hub_text = str(hub_status) if hub_status else ""
    return StatusChange.objects.create(
        variant=variant,
        channel=connector.channel,
        connector=connector,
        rule=None,
        previous_status=hub_text,
        new_status=hub_text,
        store_status=str(store_status)[:20],
        reason=(
            f"{found_by} found {connector.name} forcing {store_status}; no status rule lets "
            f"it own this SKU's status, so the hub's ({hub_text or 'not forced'}) replaces it"
        )[:255],
        source=source[:255],
        actor_label=Actor.connector(connector.name).label,
    )


def _store_status(item: RemoteStock, *, reports_forced: bool) -> StoreStatus | None:
    if reports_forced:
        forced = FORCEABLE.get(item.forced_status) if item.forced_status else None
        shown = str(item.forced_status) if item.forced_status else "not forced"
        return StoreStatus(forced, shown, (item.location,), is_derived=False)
    if item.is_managed and item.quantity is not None:
        return None
    return StoreStatus(
        FORCEABLE.get(item.status), str(item.status), (item.location,), is_derived=True
    )


def _apply(
    connector: Connector,
    mapping: SkuMapping,
    status: StoreStatus,
    scope: Scope,
    source: str,
) -> StatusChange | None:
    variant = Variant.objects.get(pk=mapping.variant_id)
    current = open_forced_statuses([variant.pk]).filter(channel_id=scope.channel_id).first()
    current_status = current.status if current is not None else None
    wanted = status.forced
    if status.is_derived:
        derived = _derived_forced(connector, variant, status, scope)
        if derived is False:
            return None
        wanted = derived
    if wanted == current_status:
        return None
    actor = Actor.connector(connector.name)
    reason = (
        f"{connector.name} owns this SKU's stock status and shows {status.shown}"
        + (" (forced there)" if not status.is_derived and status.forced else "")
    )[:255]
    channel = scope.rule.channel if scope.channel_id is not None else None
    if wanted is None:
        clear_forced_status(variant=variant, actor=actor, channel=channel, reason=reason)
    else:
        force_status(variant=variant, status=wanted, reason=reason, actor=actor, channel=channel)
    _mark_owner_holds_it(connector, mapping, status)
    logger.info(
        "Status of %s on %s set from %s: %s -> %s",
        variant.sku,
        channel.code if channel else "every channel",
        connector.name,
        current_status or "not forced",
        wanted or "not forced",
    )
    return StatusChange.objects.create(
        variant=variant,
        channel=channel,
        connector=connector,
        rule=scope.rule,
        previous_status=current_status or "",
        new_status=wanted or "",
        store_status=status.shown[:20],
        reason=reason,
        source=source[:255],
        actor_label=actor.label,
    )


def _derived_forced(
    connector: Connector,
    variant: Variant,
    status: StoreStatus,
    scope: Scope,
) -> str | Literal[False] | None:
    """For a status read from an uncounted item: clear the hub's override when the hub
    shows that status by itself, force it otherwise. False: nothing the hub can force
    (a backorder status) or no channel to compare with."""
    channel = scope.rule.channel if scope.channel_id is not None else connector.channel
    if channel is None:
        return False
    natural = channel_salable_many(channel, [variant])[variant.pk].status
    natural_remote = remote_status(natural)
    if natural_remote is not None and str(natural_remote) == status.shown:
        return None
    if status.forced is None:
        return False
    return status.forced


def _mark_owner_holds_it(connector: Connector, mapping: SkuMapping, status: StoreStatus) -> None:
    """The owning store shows the status already: record it as confirmed there, so the
    push that the change queues sends the store nothing it has."""
    locked = (
        SkuMapping.objects.select_for_update(no_key=True)
        .select_related("variant")
        .get(pk=mapping.pk)
    )
    try:
        wanted = desired_push_items(connector, [locked]).get(locked.pk, [])
    except MissingChannel:
        return
    confirmed = dict(locked.last_confirmed_status)
    for item in wanted:
        if item.location in status.locations:
            record = dict(confirmed.get(item.location) or {})
            record["forced_status"] = str(item.forced_status) if item.forced_status else None
            confirmed[item.location] = record
    if confirmed != locked.last_confirmed_status:
        locked.last_confirmed_status = confirmed
        locked.save(update_fields=["last_confirmed_status", "updated_at"])
