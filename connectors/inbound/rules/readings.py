"""A stock snapshot's items classified, one by one: what each reading means for the hub.

Nothing here writes to the database. Classifying does record on each in-memory mapping
what the store reported (its figure, its timestamp): a later item of the same snapshot is
judged against it, as the applied snapshot will be. `connectors.inbound.rules.snapshots`
applies the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from django.db.models import Q
from django.utils.dateparse import parse_datetime
from requests.structures import CaseInsensitiveDict

from connectors.base import OrderState, RemoteStock
from connectors.engine.accounting import StoreReading, keeps_accounts, read_store_figure
from connectors.inbound.rules.common import STORE_SESSION
from connectors.models import Connector, InboxEvent, InboxState, LocationMapping, SkuMapping
from connectors.registry import build_connector
from connectors.selectors import location_store_owned, own_channel_held
from stock.models import Order, StockLevel
from stock.services.movements import StockCount

# Order deliveries read to find what a store sold before the hub applied it: a backlog
# longer than this is a stuck inbox, which its own problems report.
UNAPPLIED_ORDERS_READ = 500


class Verdict(StrEnum):
    UNMAPPED = "unmapped"  # no SKU mapping: reported
    UNKNOWN_LOCATION = "unknown_location"  # store-owned, but no warehouse for the location
    STALE = "stale"  # older than the newest applied for its SKU and location
    NOT_COUNTED = "not_counted"  # the store does not count it
    COUNT = "count"  # store-owned: the hub takes the figure as a count
    IN_SYNC = "in_sync"
    ECHO = "echo"  # an older push of the hub's coming back
    BELOW = "below"  # sales the store made that the hub has not heard of: kept
    BEING_SOLD = "being_sold"  # below the hub's while the store's order waits: kept
    DRIFT = "drift"  # changed on the store behind the hub's back: overwritten


class Push(StrEnum):
    NONE = ""
    NOW = "now"
    # After a short grace: a rise the store's own open orders could explain (a
    # cancellation whose order event is on its way).
    LATER = "later"


@dataclass(slots=True)
class ItemReading:
    item: RemoteStock
    verdict: Verdict
    mapping: SkuMapping | None = None
    label: str = ""
    wanted: int | None = None  # what the hub wants the store to hold there
    push: Push = Push.NONE
    count: StockCount | None = None  # COUNT: the count movement to apply
    note: str = ""  # for the outcome, worded as the item was read


@dataclass(slots=True)
class Snapshot:
    """What classifying a snapshot needs to know, read once (see `apply_remote_stock`)."""

    connector: Connector
    delivery: str
    occurred_at: datetime | None
    mappings: dict[str, SkuMapping]
    locations: dict[str, LocationMapping]
    desired: dict[tuple[int, str], int]
    quantity_excludes_own_orders: bool
    # SKUs of the store's orders not applied yet, read once on first need.
    selling: set[str] | None = field(default=None)

    def is_being_sold(self, mapping: SkuMapping) -> bool:
        if self.selling is None:
            self.selling = unapplied_order_skus(self.connector)
        return mapping.variant.sku in self.selling


def classify_readings(snapshot: Snapshot, items: Sequence[RemoteStock]) -> list[ItemReading]:
    """Each item's verdict, in the snapshot's order."""
    return [_classify(snapshot, item) for item in items]


def _classify(snapshot: Snapshot, item: RemoteStock) -> ItemReading:
    connector = snapshot.connector
    mapping = find_mapping(snapshot.mappings, item)
    if mapping is None:
        return ItemReading(item, Verdict.UNMAPPED)
    label = f"{mapping.variant.sku}@{item.location or '-'}"
    stamp = item.updated_at or snapshot.occurred_at
    if is_stale(mapping, item.location, stamp):
        return ItemReading(item, Verdict.STALE, mapping, label)
    if item.quantity is None:
        note = f"{label}: the store does not count it"
        reading = ItemReading(item, Verdict.NOT_COUNTED, mapping, label, note=note)
    elif location_store_owned(connector, snapshot.locations, item.location):
        if item.location not in snapshot.locations:
            return ItemReading(item, Verdict.UNKNOWN_LOCATION, mapping, label)
        reading = _store_owned(snapshot, item, mapping, label)
    elif keeps_accounts(connector.kind):
        reading = _accounted(snapshot, item, mapping, label)
    else:
        reading = _hub_owned(snapshot, item, mapping, label)
    _note_stamp(mapping, item.location, stamp)
    return reading


def _store_owned(
    snapshot: Snapshot, item: RemoteStock, mapping: SkuMapping, label: str
) -> ItemReading:
    """The store's figure is the truth: a count movement, whose reference makes the same
    delivery applied twice a no-op."""
    location = snapshot.locations[item.location]
    counted = item.quantity or 0
    if snapshot.quantity_excludes_own_orders:
        # The store's figure leaves out what its own open orders hold in the hub.
        level = StockLevel.objects.filter(
            variant=mapping.variant, warehouse=location.warehouse
        ).first()
        if level is not None:
            counted += own_channel_held(snapshot.connector, [level]).get(level.pk, 0)
    connector, delivery = snapshot.connector, snapshot.delivery
    count = StockCount(
        variant=mapping.variant,
        warehouse=location.warehouse,
        counted=counted,
        document=f"connector {connector.name} delivery {delivery}"[:200],
        reference=f"{connector.pk}:{delivery}:{mapping.remote_id}:{item.location}"[:255],
    )
    return ItemReading(item, Verdict.COUNT, mapping, label, count=count)


def _accounted(
    snapshot: Snapshot, item: RemoteStock, mapping: SkuMapping, label: str
) -> ItemReading:
    """Hub-owned, on a store whose figures the hub keeps accounts of (its own sales
    move them): read against those accounts."""
    wanted = snapshot.desired.get((mapping.pk, item.location))
    assert item.quantity is not None
    figure = read_store_figure(mapping, item.location, item.quantity, wanted)
    # A rise the store's own open orders could explain waits a moment for their event.
    push = Push.LATER if mapping.store_orders else Push.NOW
    if figure == StoreReading.IN_SYNC:
        return ItemReading(item, Verdict.IN_SYNC, mapping, label, wanted)
    if figure == StoreReading.ECHO:
        # An older push of ours, or a figure that only looks like one: the push worker
        # compares again and sends only what still differs.
        return ItemReading(item, Verdict.ECHO, mapping, label, wanted, push)
    if figure == StoreReading.BELOW:
        note = (
            f"{label}: the store holds {item.quantity}, below the hub's "
            f"{mapping.accounted.get(item.location)}: sales not reported yet, kept"
        )
        return ItemReading(item, Verdict.BELOW, mapping, label, wanted, note=note)
    return ItemReading(item, Verdict.DRIFT, mapping, label, wanted, push)


def _hub_owned(
    snapshot: Snapshot, item: RemoteStock, mapping: SkuMapping, label: str
) -> ItemReading:
    wanted = snapshot.desired.get((mapping.pk, item.location))
    pushed = mapping.last_pushed.get(item.location)
    mapping.last_confirmed = {**mapping.last_confirmed, item.location: item.quantity}
    if wanted is not None and item.quantity == wanted:
        return ItemReading(item, Verdict.IN_SYNC, mapping, label, wanted)
    if pushed is not None and item.quantity == pushed:
        # An older push of ours coming back; a newer one follows.
        return ItemReading(item, Verdict.ECHO, mapping, label, wanted, Push.NOW)
    assert item.quantity is not None
    if wanted is not None and item.quantity < wanted and snapshot.is_being_sold(mapping):
        # The store already sold what its order delivery, still waiting, will tell the
        # hub: raising its figure now would offer those units again.
        note = (
            f"{label}: the store shows {item.quantity}, the hub {wanted}; not "
            "overwritten while the store's order for it is not applied"
        )
        return ItemReading(item, Verdict.BEING_SOLD, mapping, label, wanted, note=note)
    return ItemReading(item, Verdict.DRIFT, mapping, label, wanted, Push.NOW)


def is_stale(mapping: SkuMapping, location: str, stamp: datetime | None) -> bool:
    """Older (by the store's timestamp) than the newest applied for this SKU and location."""
    newest = _parse_time(mapping.location_updated_at.get(location))
    return stamp is not None and newest is not None and stamp < newest


def _note_stamp(mapping: SkuMapping, location: str, stamp: datetime | None) -> None:
    if stamp is None:
        return
    mapping.location_updated_at = {**mapping.location_updated_at, location: stamp.isoformat()}
    if mapping.remote_updated_at is None or stamp > mapping.remote_updated_at:
        mapping.remote_updated_at = stamp


def follow_manage_stock(
    mappings: dict[str, SkuMapping], items: Sequence[RemoteStock], occurred_at: datetime | None
) -> set[int]:
    """The store switched counting an item on or off (WooCommerce `manage_stock`): the
    mapping follows, so pushes send what the store can show now, a quantity or a status.
    Returns the variants whose mapping changed (a push is queued for them)."""
    changed: set[int] = set()
    for item in items:
        mapping = find_mapping(mappings, item)
        if mapping is None or mapping.is_managed == item.is_managed:
            continue
        if is_stale(mapping, item.location, item.updated_at or occurred_at):
            continue  # an older record does not undo a newer switch
        mapping.is_managed = item.is_managed
        mapping.save(update_fields=["is_managed", "updated_at"])
        changed.add(mapping.variant_id)
    return changed


def unapplied_order_skus(connector: Connector) -> set[str]:
    """SKUs on this connector's order deliveries not applied yet (received or failed) that
    are new to the hub: the store's own figure already counts them, the hub's does not."""
    events = list(
        InboxEvent.objects.filter(
            connector=connector,
            state__in=[InboxState.RECEIVED, InboxState.FAILED],
            topic__startswith="order",
        )
        .order_by("pk")
        .values_list("headers", "body")[:UNAPPLIED_ORDERS_READ]
    )
    if not events:
        return set()
    store = build_connector(connector, session=STORE_SESSION)
    orders: dict[str, set[str]] = {}
    for headers, body in events:
        try:
            parsed = store.parse_inbound(
                headers=CaseInsensitiveDict(headers), body=body.encode("utf-8")
            )
        except Exception:
            continue  # unreadable: its own processing reports it
        for remote in parsed.orders:
            if remote.state != OrderState.RELEASED:
                orders.setdefault(remote.reference, set()).update(line.sku for line in remote.lines)
    if connector.channel_id is not None and orders:
        applied = Order.objects.filter(
            channel_id=connector.channel_id, reference__in=list(orders)
        ).values_list("reference", flat=True)
        for reference in applied:
            orders.pop(reference, None)
    return set().union(*orders.values()) if orders else set()


def find_mapping(mappings: dict[str, SkuMapping], item: RemoteStock) -> SkuMapping | None:
    found = mappings.get(item.remote_id) if item.remote_id else None
    return found or (mappings.get(f"sku:{item.sku}") if item.sku else None)


def lock_mappings(connector: Connector, items: Sequence[RemoteStock]) -> dict[str, SkuMapping]:
    """Mappings for these items by remote id (or SKU), locked in pk order: the push worker
    writes the same JSON fields, and neither may lose the other's update."""
    remote_ids = [item.remote_id for item in items if item.remote_id]
    skus = [item.sku for item in items if item.sku]
    found = list(
        SkuMapping.objects.select_for_update(no_key=True, of=("self",))
        .select_related("variant")
        .filter(connector=connector)
        .filter(Q(remote_id__in=remote_ids) | Q(variant__sku__in=skus))
        .order_by("pk")
    )
    by_key: dict[str, SkuMapping] = {}
    for mapping in found:
        by_key[mapping.remote_id] = mapping
        by_key[f"sku:{mapping.variant.sku}"] = mapping
    return by_key


def _parse_time(value: object) -> datetime | None:
    if not value:
        return None
    return parse_datetime(str(value))
