"""Stock snapshots a store reported (a webhook, a poll, a feed, reconciliation), applied.

Each item is classified first (`connectors.inbound.rules.readings`); then the result is
applied: the store-owned counts as one batch, the mappings saved, the overwrites queued,
the problems recorded and the store's stock statuses passed on.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.conf import settings

from connectors.base import RemoteStock
from connectors.engine.problems import record_problem
from connectors.inbound.rules.common import Outcome
from connectors.inbound.rules.readings import (
    ItemReading,
    Push,
    Snapshot,
    Verdict,
    classify_readings,
    find_mapping,
    follow_manage_stock,
    lock_mappings,
)
from connectors.models import Connector, OutboxItem, OutboxState, SkuMapping, SyncProblemKind
from connectors.outbox import enqueue_connector_pushes
from connectors.registry import kind_spec
from connectors.selectors import (
    MissingChannel,
    desired_push_items,
    location_mappings,
    location_store_owned,
)
from connectors.sync.status import propagate_store_statuses
from stock.actors import Actor
from stock.models import MovementSource, ReasonCode
from stock.services.movements import StockCount, count_stock_batch


def apply_remote_stock(
    *,
    connector: Connector,
    stock: Sequence[RemoteStock],
    source: str,
    occurred_at: datetime | None = None,
    details: dict | None = None,
    outcome: Outcome | None = None,
) -> Outcome:
    """Apply stock records a store reported (a webhook, a poll, a feed) by ownership.

    Store-owned locations: count movements (reason sync, source connector, reference
    "<connector>:<source>:<remote id>:<location>", so the same `source` twice is a no-op).
    Hub-owned: echoes and right values are noted, drift is recorded (`drift` problem) and
    an overwrite push is queued. Items older than the newest applied for their SKU and
    location are stale: recorded, not applied. Unmapped SKUs are reported. Must run inside
    a transaction (it locks the mappings it updates).
    """
    outcome = outcome if outcome is not None else Outcome()
    already_unmapped = len(outcome.unmapped)
    items = list(stock)
    snapshot, followed = _read_snapshot(connector, items, source, occurred_at, outcome)
    readings = classify_readings(snapshot, items)
    applied = _apply_counts(connector, readings)
    _tally(readings, applied, outcome)
    _save_mappings(readings)
    _queue_overwrites(connector, readings, followed)
    _record_problems(connector, source, details or {}, outcome, already_unmapped)
    # Status rules: a store that owns SKUs' stock status passes it on to the others.
    changes = propagate_store_statuses(connector=connector, stock=items, source=source)
    if changes:
        outcome.notes.append(f"{len(changes)} stock status change(s) taken from the store")
    return outcome


def _read_snapshot(
    connector: Connector,
    items: list[RemoteStock],
    source: str,
    occurred_at: datetime | None,
    outcome: Outcome,
) -> tuple[Snapshot, set[int]]:
    """Lock the items' mappings and read what the hub wants the store to hold; follow the
    store's switches of counting (returned: the variants to push for them)."""
    mappings = lock_mappings(connector, items)
    locations = location_mappings(connector)
    spec = kind_spec(connector.kind)
    hub_owned = list(
        {
            mapping.pk: mapping
            for item in items
            if (mapping := find_mapping(mappings, item)) is not None
            and not location_store_owned(connector, locations, item.location)
        }.values()
    )
    followed = (
        follow_manage_stock(mappings, items, occurred_at) if spec.reports_manage_stock else set()
    )
    desired: dict[tuple[int, str], int] = {}
    if hub_owned:
        try:
            for mapping_pk, wanted in desired_push_items(connector, hub_owned).items():
                for item in wanted:
                    desired[(mapping_pk, item.location)] = item.quantity
        except MissingChannel as exc:
            outcome.notes.append(str(exc))
    snapshot = Snapshot(
        connector=connector,
        delivery=source,
        occurred_at=occurred_at,
        mappings=mappings,
        locations=locations,
        desired=desired,
        quantity_excludes_own_orders=spec.quantity_excludes_own_orders,
    )
    return snapshot, followed


def _apply_counts(connector: Connector, readings: list[ItemReading]) -> set[int]:
    """The store-owned counts as one batch; returns the indexes (in `readings`) of those
    that changed a balance."""
    counting: list[int] = []
    counts: list[StockCount] = []
    seen: set[str | None] = set()
    for index, reading in enumerate(readings):
        if reading.count is None or reading.count.reference in seen:
            continue  # the same item twice in one snapshot: the first one counts
        seen.add(reading.count.reference)
        counting.append(index)
        counts.append(reading.count)
    if not counting:
        return set()
    results = count_stock_batch(
        counts=counts,
        actor=Actor.connector(connector.name),
        reason=ReasonCode.SYNC,
        source=MovementSource.CONNECTOR,
    )
    return {
        index
        for index, result in zip(counting, results, strict=True)
        if result.outcome == "applied"
    }


def _tally(readings: list[ItemReading], applied: set[int], outcome: Outcome) -> None:
    for index, reading in enumerate(readings):
        verdict, item = reading.verdict, reading.item
        if verdict == Verdict.UNMAPPED:
            outcome.unmapped.append(item.sku or item.remote_id)
        elif verdict == Verdict.UNKNOWN_LOCATION:
            outcome.unmapped.append(f"location {item.location or '(store)'}")
        elif verdict == Verdict.STALE:
            outcome.stale.append(reading.label)
        elif verdict == Verdict.COUNT and index in applied:
            outcome.counted += 1
        elif verdict in (Verdict.COUNT, Verdict.IN_SYNC):
            outcome.in_sync += 1
        elif verdict == Verdict.ECHO:
            outcome.echoes += 1
        elif verdict == Verdict.DRIFT:
            assert reading.mapping is not None
            outcome.drifted.append(
                {
                    "sku": reading.mapping.variant.sku,
                    "location": item.location,
                    "store": item.quantity,
                    "hub": reading.wanted,
                }
            )
        if reading.note:
            outcome.notes.append(reading.note)


def _save_mappings(readings: list[ItemReading]) -> None:
    skipped = (Verdict.UNMAPPED, Verdict.UNKNOWN_LOCATION, Verdict.STALE)
    touched: dict[int, SkuMapping] = {
        reading.mapping.pk: reading.mapping
        for reading in readings
        if reading.mapping is not None and reading.verdict not in skipped
    }
    for mapping in touched.values():
        mapping.save(
            update_fields=[
                "last_confirmed",
                "accounted",
                "location_updated_at",
                "remote_updated_at",
                "updated_at",
            ]
        )


def _queue_overwrites(
    connector: Connector, readings: list[ItemReading], followed: set[int]
) -> None:
    overwrite = set(followed)
    overwrite_later: set[int] = set()
    for reading in readings:
        if reading.mapping is not None and reading.push == Push.NOW:
            overwrite.add(reading.mapping.variant_id)
        elif reading.mapping is not None and reading.push == Push.LATER:
            overwrite_later.add(reading.mapping.variant_id)
    if overwrite:
        enqueue_connector_pushes(connector.pk, overwrite)
    later = overwrite_later - overwrite
    if not later:
        return
    # A push already waiting goes as due (it brings the rise down too): never delayed.
    waiting = set(
        OutboxItem.objects.filter(
            connector=connector, state=OutboxState.PENDING, variant_id__in=later
        ).values_list("variant_id", flat=True)
    )
    if later - waiting:
        enqueue_connector_pushes(
            connector.pk,
            later - waiting,
            delay_seconds=float(settings.CONNECTORS_STORE_RISE_GRACE_SECONDS),
        )


def _record_problems(
    connector: Connector, source: str, details: dict, outcome: Outcome, already_unmapped: int
) -> None:
    if outcome.drifted:
        record_problem(
            connector_id=connector.pk,
            kind=SyncProblemKind.DRIFT,
            message=f"{len(outcome.drifted)} SKU(s) changed on the store behind the hub's back; "
            "the hub's values are being pushed back.",
            details={**details, "items": outcome.drifted[:100]},
        )
    unmapped = outcome.unmapped[already_unmapped:]
    if unmapped:
        record_problem(
            connector_id=connector.pk,
            kind=SyncProblemKind.UNMAPPED,
            message=f"{source} named what no mapping covers: {', '.join(unmapped[:20])}",
            details={**details, "unmapped": unmapped[:500]},
        )
