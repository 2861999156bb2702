"""What the hub believes a store holds, and how a push changes it without undoing a sale.

Per SKU mapping and store location the hub keeps two figures:

- `last_confirmed` (L): the store's own figure as last seen: a push answer, a webhook, a
  poll, a reconciliation.
- `accounted` (A): the hub's figure that L stands for. L - A is what the store changed on
  its own that the hub has seen but not matched to an event yet: sales the hub has not
  heard of (L below A), a merchant's edit or a cancellation not yet applied (L above A).
  A missing A reads as L (nothing unmatched); it is written down before L next changes.

D is what the hub wants the store to hold now (`desired_push_items`).

**Relative push** (WooCommerce items that manage stock, `inventory_delta`): the store adds
`delta = D - max(L, A)` to whatever it holds by then. Only what changed on the hub's side
is sent, so sales the store made meanwhile, reported or not, stay made; a store above A is
brought down by its excess. The answer carries the figure the store holds afterwards:
L := answer, A += D - A_read (the hub's own change; what was counted into A while the
request was out stays counted).

**Absolute push** (Magento source items): the store is set to `X = D + min(L - A, 0)`:
the hub's figure less the store's own decrements the hub has seen and not matched. An
absolute push thus lowers freely and raises the store only by what the hub itself added
(a receipt, a released hold), never to undo a decrement of the store's own. Confirmed:
L := X, A += D - A_read. (Partner pushes stay plain absolute figures: a partner's orders
say nothing of its stock.)

**The store's own orders.** A store takes units from its own stock before the hub hears of
the order (WooCommerce at processing, on-hold and completed, giving them back on cancel;
Magento at shipment). When the hub applies that event it counts the units as already done
on the store (`count_store_order`): A -= units (A += units for a restoration), memorised
per order reference in `store_orders`, so a repeated or replayed event counts nothing.
The event first matches a decrement the hub has already seen (L below A); only the part it
exceeds moves L as well (the store's webhook has not told it yet). D and A then move
together, and no push rewrites the value the store already holds.

**Snapshots** (`read_store_figure`) set L and are read as:
- equal to D or A, or to the figure the last push left: in sync, or the hub's echo;
- below A: sales the store has not reported yet. Kept: never pushed back up; the order
  will come and match it;
- above A: drift (a merchant's edit, a cancellation not yet applied): the next push
  brings the store down. Where the store's own open orders could explain the rise, that
  push waits `CONNECTORS_STORE_RISE_GRACE_SECONDS` (2 s) for the cancellation's news,
  which then leaves nothing to send; a cancellation later than that leaves the store
  short, which reconciliation repairs.
- An echo (equal to the figure a push of ours left) is compared again by the push worker
  too: a figure that only looks like an old push of ours is still corrected.

**Lost answers.** The delta of a relative push is written to `in_flight` before the
request. When its answer is lost (a timeout, a 5xx, a worker that died: the next run finds
`in_flight` left over), whether the store applied it cannot be known, so the hub assumes
whichever leaves the store offering less: a raise counts as applied, a lowering as not
applied (it is sent again). A re-send can therefore double a lowering, never a raise: the
store may offer too few until reconciliation, never too many.

**Reconciliation** (`settle_below_figures`): a store figure below A while no delivery from
the store waits to be applied, and no open order of its channel for the SKU is left that
the store may have taken units for unseen (Magento ships after the hub holds), is a
merchant's edit (or a lost-answer assumption that erred): A := L, and the next push brings
the store to the hub's figure.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from enum import StrEnum

from connectors.base import PushItem, RemoteOrder
from connectors.models import Connector, InboxEvent, InboxState, LocationMapping, SkuMapping
from connectors.outbox import enqueue_connector_pushes
from stock.models import Allocation, Order, OrderLine, OrderStatus
from stock.models.orders import OPEN_ORDER_STATUSES

RELATIVE_KINDS = frozenset({"woocommerce"})
ACCOUNTED_KINDS = frozenset({"woocommerce", "magento"})
FINAL_ORDER_STATUSES = frozenset({OrderStatus.SHIPPED, OrderStatus.CANCELLED, OrderStatus.EXPIRED})


class StoreReading(StrEnum):
    IN_SYNC = "in_sync"
    ECHO = "echo"
    BELOW = "below"  # sales the store has not reported yet: kept
    ABOVE = "above"  # drift: brought down by the next push


def keeps_accounts(kind: str) -> bool:
    return kind in ACCOUNTED_KINDS


def accounted_quantity(mapping: SkuMapping, location: str) -> int | None:
    value = mapping.accounted.get(location)
    return value if value is not None else mapping.last_confirmed.get(location)


def pin_accounted(mapping: SkuMapping, location: str) -> None:
    """Write A down (as L when missing) before L changes, so A does not follow L."""
    if mapping.accounted.get(location) is None:
        seen = mapping.last_confirmed.get(location)
        if seen is not None:
            mapping.accounted = {**mapping.accounted, location: seen}


# --- Pushing --------------------------------------------------------------------------------


def plan_push(kind: str, mapping: SkuMapping, item: PushItem) -> PushItem:
    """The item to send for what the hub wants (`item`): relative or absolute by the rules
    above, its `quantity` the figure expected afterwards. Unchanged where no accounting
    applies: items without a counted quantity, partners, a figure never seen."""
    if not item.is_managed or kind not in ACCOUNTED_KINDS:
        return item
    seen = mapping.last_confirmed.get(item.location)
    accounted = accounted_quantity(mapping, item.location)
    if seen is None or accounted is None:
        return item
    hub_change = item.quantity - accounted
    if kind in RELATIVE_KINDS:
        delta = item.quantity - max(seen, accounted)
        return replace(item, quantity=seen + delta, delta=delta, hub_change=hub_change)
    target = max(item.quantity + min(seen - accounted, 0), 0)
    return replace(item, quantity=target, hub_change=hub_change)


def note_in_flight(mapping: SkuMapping, item: PushItem) -> None:
    if item.delta is not None:
        mapping.in_flight = {
            **mapping.in_flight,
            item.location: {"delta": item.delta, "hub_change": item.hub_change},
        }


def confirm_push(mapping: SkuMapping, item: PushItem, confirmed_quantity: int) -> None:
    """The store confirmed `item` and holds `confirmed_quantity` there now."""
    location = item.location
    if item.hub_change is not None:
        pin_accounted(mapping, location)
        current = mapping.accounted.get(location)
        if current is not None:
            mapping.accounted = {**mapping.accounted, location: current + item.hub_change}
    mapping.last_confirmed = {**mapping.last_confirmed, location: confirmed_quantity}
    _drop_in_flight(mapping, location)


def settle_in_flight(mapping: SkuMapping, location: str, *, is_lost: bool) -> None:
    """Close a relative push that got no confirmation. `is_lost`: the store may have applied
    it (no answer came); otherwise it certainly did not (refused, throttled)."""
    sent = mapping.in_flight.get(location)
    if sent is None:
        return
    delta = int(sent.get("delta") or 0)
    seen = mapping.last_confirmed.get(location)
    if is_lost and delta > 0 and seen is not None:
        # Assumed applied: were it not, the store offers `delta` too few, never too many.
        pin_accounted(mapping, location)
        hub_change = int(sent.get("hub_change") or 0)
        mapping.accounted = {
            **mapping.accounted,
            location: mapping.accounted[location] + hub_change,
        }
        mapping.last_confirmed = {**mapping.last_confirmed, location: seen + delta}
    _drop_in_flight(mapping, location)


def _drop_in_flight(mapping: SkuMapping, location: str) -> None:
    if location in mapping.in_flight:
        mapping.in_flight = {k: v for k, v in mapping.in_flight.items() if k != location}


# --- Reading the store's figure -------------------------------------------------------------


def read_store_figure(
    mapping: SkuMapping, location: str, quantity: int, wanted: int | None
) -> StoreReading:
    """Take the store's reported figure as L and say how to read it (see the module)."""
    pushed = mapping.last_pushed.get(location)
    pin_accounted(mapping, location)
    accounted = mapping.accounted.get(location)
    mapping.last_confirmed = {**mapping.last_confirmed, location: quantity}
    if accounted is None:
        # First sight of this item: nothing to match it against; the hub's figure rules.
        mapping.accounted = {**mapping.accounted, location: quantity}
        return StoreReading.IN_SYNC if quantity == wanted else StoreReading.ABOVE
    if quantity in (wanted, accounted):
        return StoreReading.IN_SYNC
    if pushed is not None and quantity == pushed:
        return StoreReading.ECHO
    if quantity < accounted:
        return StoreReading.BELOW
    return StoreReading.ABOVE


def settle_store_below(mapping: SkuMapping, location: str) -> bool:
    """Take a store figure below A as the merchant's (reconciliation, nothing waiting):
    A := L, so the next push brings the store to the hub's figure. True if it was below."""
    seen = mapping.last_confirmed.get(location)
    accounted = mapping.accounted.get(location)
    if seen is None or accounted is None or seen >= accounted:
        return False
    mapping.accounted = {**mapping.accounted, location: seen}
    return True


def settle_below_figures(*, connector: Connector, mapping_ids: list[int]) -> list[int]:
    """Reconciliation: take the store's figures below the hub's accounts as the merchant's,
    unless a delivery from the store still waits to be applied (it may hold the order that
    explains them). Queues the pushes that bring them back; returns their variant ids."""
    if not keeps_accounts(connector.kind) or not mapping_ids:
        return []
    waiting = InboxEvent.objects.filter(
        connector=connector, state__in=[InboxState.RECEIVED, InboxState.FAILED]
    )
    if waiting.exists():
        return []
    mappings = list(
        SkuMapping.objects.select_for_update(no_key=True).filter(pk__in=mapping_ids).order_by("pk")
    )
    # An open order of the store's channel that the store's figure is not known to include
    # yet (Magento takes its units only when it ships) may explain a figure below: kept.
    # Read for these mappings' variants only, not every open line of the channel.
    open_lines = (
        OrderLine.objects.filter(
            order__channel_id=connector.channel_id,
            order__status__in=OPEN_ORDER_STATUSES,
            variant_id__in={mapping.variant_id for mapping in mappings},
        ).values_list("variant_id", "order__reference")
        if connector.channel_id is not None
        else []
    )
    open_orders: dict[int, set[str]] = defaultdict(set)
    for variant_id, reference in open_lines:
        open_orders[variant_id].add(reference)
    variant_ids = []
    for mapping in mappings:
        if open_orders.get(mapping.variant_id, set()) - set(mapping.store_orders):
            continue
        settled = [
            location
            for location in list(mapping.accounted)
            if settle_store_below(mapping, location)
        ]
        if settled:
            mapping.save(update_fields=["accounted", "updated_at"])
            variant_ids.append(mapping.variant_id)
    if variant_ids:
        enqueue_connector_pushes(connector.pk, variant_ids)
    return variant_ids


# --- The store's own orders -----------------------------------------------------------------


def lock_order_mappings(connector: Connector, remote: RemoteOrder) -> dict[int, SkuMapping]:
    """The mappings of an order's SKUs, locked in pk order (the order the inbox and the push
    worker lock them in), by variant id. Taken before the order is applied."""
    if not keeps_accounts(connector.kind):
        return {}
    skus = sorted({line.sku for line in remote.lines if line.sku})
    if not skus:
        return {}
    # Items the store does not count (WooCommerce without manage_stock) have no figure.
    return {
        mapping.variant_id: mapping
        for mapping in SkuMapping.objects.select_for_update(no_key=True, of=("self",))
        .select_related("variant")
        .filter(connector=connector, variant__sku__in=skus, is_managed=True)
        .order_by("pk")
    }


def count_store_order(
    *,
    connector: Connector,
    remote: RemoteOrder,
    order: Order | None,
    status_before: str | None,
    mappings: dict[int, SkuMapping],
) -> None:
    """Count what the store's own order event already did to its stock (see the module).

    `order` is the hub's order after the event was applied, `status_before` its status
    before. Nothing is counted for an order the hub had already finished."""
    if order is None or not mappings or status_before in FINAL_ORDER_STATUSES:
        return
    units = _store_units(connector, remote, order, mappings)
    is_final = order.status in FINAL_ORDER_STATUSES
    reference = remote.reference
    moved: list[int] = []
    for variant_id, mapping in mappings.items():
        counted: dict[str, int] = mapping.store_orders.get(reference, {})
        wanted = units.get(variant_id, {}) if units is not None else counted
        changed = False
        for location in sorted(set(wanted) | set(counted)):
            taken = wanted.get(location, 0) - counted.get(location, 0)
            if taken:
                _store_changed(mapping, location, -taken)
                changed = True
                moved.append(variant_id)
        orders = dict(mapping.store_orders)
        if is_final or not any(wanted.values()):
            changed = orders.pop(reference, None) is not None or changed
        elif wanted != counted:
            orders[reference] = wanted
            changed = True
        if changed:
            mapping.store_orders = orders
            mapping.save(
                update_fields=[
                    "accounted",
                    "last_confirmed",
                    "store_orders",
                    "updated_at",
                ]
            )
    if moved:
        # The hub's own figure may not move with this event (a hold it already made, a
        # payment): the push worker compares again, and sends nothing if nothing differs.
        enqueue_connector_pushes(connector.pk, moved)


def forget_store_order(connector: Connector, reference: str) -> None:
    """Drop what was counted for an order the store deleted: no later event of it counts."""
    if not keeps_accounts(connector.kind):
        return
    for mapping in (
        SkuMapping.objects.select_for_update(no_key=True)
        .filter(connector=connector, store_orders__has_key=reference)
        .order_by("pk")
    ):
        mapping.store_orders = {k: v for k, v in mapping.store_orders.items() if k != reference}
        mapping.save(update_fields=["store_orders", "updated_at"])


def _store_units(
    connector: Connector,
    remote: RemoteOrder,
    order: Order,
    mappings: dict[int, SkuMapping],
) -> dict[int, dict[str, int]] | None:
    """Per variant and location, the units the store has taken from its own stock for this
    order in its current state. None: the event says nothing of the store's stock."""
    if connector.kind == "magento":
        # Magento only reserves until it ships; the shipment takes the source quantity.
        if order.status != OrderStatus.SHIPPED:
            return None
        locations = {
            mapping.warehouse_id: mapping.location
            for mapping in LocationMapping.objects.filter(connector=connector)
        }
        units: dict[int, dict[str, int]] = defaultdict(dict)
        for variant_id, warehouse_id, quantity in Allocation.objects.filter(
            line__order=order, status=Allocation.Status.SHIPPED
        ).values_list("line__variant_id", "warehouse_id", "quantity"):
            location = locations.get(warehouse_id)
            if location is not None:
                units[variant_id][location] = units[variant_id].get(location, 0) + quantity
        return dict(units)
    if remote.is_stock_reduced is None:
        return None
    by_sku: dict[str, int] = defaultdict(int)
    for line in remote.lines:
        by_sku[line.sku] += line.quantity
    return {
        variant_id: {"": by_sku.get(mapping.variant.sku, 0) if remote.is_stock_reduced else 0}
        for variant_id, mapping in mappings.items()
    }


def _store_changed(mapping: SkuMapping, location: str, change: int) -> None:
    """The store changed its own figure by `change` for an event the hub now applies."""
    seen = mapping.last_confirmed.get(location)
    pin_accounted(mapping, location)
    accounted = mapping.accounted.get(location)
    if seen is None or accounted is None:
        return  # the hub never knew the store's figure: nothing to keep consistent
    unmatched = seen - accounted
    if change < 0 < -unmatched:
        already_seen = max(change, unmatched)
    elif change > 0 < unmatched:
        already_seen = min(change, unmatched)
    else:
        already_seen = 0
    mapping.accounted = {**mapping.accounted, location: accounted + change}
    mapping.last_confirmed = {**mapping.last_confirmed, location: seen + change - already_seen}
