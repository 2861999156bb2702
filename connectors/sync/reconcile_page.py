"""Reconciliation of one page of a store's stock records (see `connectors.sync.reconcile`).

Each record is compared with what the hub means the store to hold there, the corrections
go through the inbound path (`apply_remote_stock`), and the findings are noted on the
run's tally.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

from django.db import transaction

from connectors.base import Connector as StoreConnector
from connectors.base import PushItem, RemoteStatus, RemoteStock
from connectors.engine.accounting import settle_below_figures
from connectors.inbound.rules.common import Outcome
from connectors.inbound.rules.snapshots import apply_remote_stock
from connectors.models import (
    Connector,
    LocationMapping,
    OutboxItem,
    OutboxState,
    ReconciliationReport,
    SkuMapping,
    StatusRule,
)
from connectors.outbox import enqueue_connector_pushes
from connectors.registry import ConnectorKindSpec, PushMode, kind_spec
from connectors.selectors import (
    MissingChannel,
    desired_push_items,
    location_mappings,
    location_store_owned,
)
from connectors.sync.common import MappingIndex
from connectors.sync.setup_skus import confirmed_status_record
from connectors.sync.status import owned_scopes, record_status_replaced, rules_involving
from stock.models import MovementSource, StockMovement

# Entries kept in a report's lists (its counters are always exact).
REPORT_LIST_LIMIT = 5000


@dataclass(slots=True)
class Tally:
    checked: set[int] = field(default_factory=set)
    drifted: int = 0
    corrected: int = 0
    details: list[dict] = field(default_factory=list)
    unmapped_store: list[dict] = field(default_factory=list)
    unmapped_store_count: int = 0
    records: int = 0

    def note(self, entry: dict) -> None:
        if len(self.details) < REPORT_LIST_LIMIT:
            self.details.append(entry)

    def note_unmapped(self, entry: dict) -> None:
        self.unmapped_store_count += 1
        if len(self.unmapped_store) < REPORT_LIST_LIMIT:
            self.unmapped_store.append(entry)


@dataclass(slots=True)
class Page:
    """One page's mapped records and what the hub wants for them, read once."""

    connector: Connector
    spec: ConnectorKindSpec
    locations: dict[str, LocationMapping]
    mapped: list[tuple[SkuMapping, RemoteStock]]
    hub_owned: list[SkuMapping]
    wanted: dict[tuple[int, str], PushItem]
    missing_channel: str
    pending: set[int]  # variants with a push pending
    rules: list[StatusRule]
    reports_forced: bool

    def is_store_owned(self, item: RemoteStock) -> bool:
        return location_store_owned(self.connector, self.locations, item.location)


@dataclass(slots=True)
class Comparison:
    findings: list[tuple[SkuMapping, RemoteStock, dict]] = field(default_factory=list)
    status_resets: list[tuple[SkuMapping, RemoteStock]] = field(default_factory=list)
    # A forced status is the product's, not a source's: one finding per product.
    forced: dict[int, _ForcedFinding] = field(default_factory=dict)


def reconcile_page(
    connector: Connector,
    store: StoreConnector,
    report: ReconciliationReport,
    chunk: Sequence[RemoteStock],
    tally: Tally,
    seen_remote: set[str],
) -> None:
    """Compare one page of records, correct what differs and note it on the tally."""
    locations = location_mappings(connector)
    mapped = _mapped_records(connector, locations, chunk, tally, seen_remote)
    if not mapped:
        return
    page = _read_page(connector, store, locations, mapped)
    comparison = Comparison()
    for mapping, item in mapped:
        if not page.is_store_owned(item):  # store-owned: read back from the ledger once applied
            _compare_item(page, mapping, item, comparison)
    for forced in comparison.forced.values():
        if not forced.owns_status:
            comparison.status_resets.extend((forced.mapping, item) for item in forced.items)
        comparison.findings.append((forced.mapping, forced.items[0], forced.entry()))
    source = f"reconcile-{report.pk}"
    outcome, counted = _correct(page, comparison, source, report)
    _note_findings(comparison, outcome, counted, tally)


def _mapped_records(
    connector: Connector,
    locations: dict[str, LocationMapping],
    chunk: Sequence[RemoteStock],
    tally: Tally,
    seen_remote: set[str],
) -> list[tuple[SkuMapping, RemoteStock]]:
    """The page's records with their mappings; the others noted as unmapped."""
    spec = kind_spec(connector.kind)
    index = MappingIndex.for_items(connector, chunk)
    mapped: list[tuple[SkuMapping, RemoteStock]] = []
    for item in chunk:
        mapping = index.find(item)
        if mapping is None:
            tally.note_unmapped(
                {
                    "side": "store",
                    "sku": item.sku,
                    "remote_id": item.remote_id,
                    "location": item.location,
                    "reason": "no_mapping",
                }
            )
            continue
        seen_remote.add(mapping.remote_id)
        if not _is_known_location(spec.push_mode, locations, item.location):
            tally.note_unmapped(
                {
                    "side": "store",
                    "sku": mapping.variant.sku,
                    "remote_id": item.remote_id,
                    "location": item.location,
                    "reason": "unmapped_location",
                }
            )
            continue
        tally.checked.add(mapping.pk)
        mapped.append((mapping, item))
    return mapped


def _read_page(
    connector: Connector,
    store: StoreConnector,
    locations: dict[str, LocationMapping],
    mapped: list[tuple[SkuMapping, RemoteStock]],
) -> Page:
    mappings = list({mapping.pk: mapping for mapping, _ in mapped}.values())
    hub_owned = [
        mapping
        for mapping, item in mapped
        if not location_store_owned(connector, locations, item.location)
    ]
    wanted: dict[tuple[int, str], PushItem] = {}
    missing_channel = ""
    if hub_owned:
        try:
            for mapping_pk, items in desired_push_items(connector, hub_owned).items():
                for push_item in items:
                    wanted[(mapping_pk, push_item.location)] = push_item
        except MissingChannel as exc:
            missing_channel = str(exc)
    pending = set(
        OutboxItem.objects.filter(
            connector=connector,
            state=OutboxState.PENDING,
            variant_id__in=[mapping.variant_id for mapping in mappings],
        ).values_list("variant_id", flat=True)
    )
    return Page(
        connector=connector,
        spec=kind_spec(connector.kind),
        locations=locations,
        mapped=mapped,
        hub_owned=hub_owned,
        wanted=wanted,
        missing_channel=missing_channel,
        pending=pending,
        rules=rules_involving(connector),
        reports_forced=store.reports_forced_status,
    )


def _compare_item(
    page: Page, mapping: SkuMapping, item: RemoteStock, comparison: Comparison
) -> None:
    """One hub-owned record against the hub's value: a finding when they differ."""
    entry = _base_entry(mapping, item)
    target = page.wanted.get((mapping.pk, item.location))
    if target is None:
        entry.update(finding="not_compared", note=page.missing_channel or "no value to compare")
        comparison.findings.append((mapping, item, entry))
        return
    if page.spec.reports_manage_stock and item.is_managed != mapping.is_managed:
        entry.update(
            finding="drift",
            action="manage_stock_followed",
            note="the store switched counting this item "
            + ("on" if item.is_managed else "off")
            + "; the mapping follows and the hub pushes what the store can show",
        )
        comparison.findings.append((mapping, item, entry))
        return
    reports_forced = page.reports_forced
    entry["hub_quantity"] = target.quantity if target.is_managed else None
    quantity_differs = (
        target.is_managed and item.quantity is not None and item.quantity != target.quantity
    )
    not_counted = target.is_managed and item.quantity is None
    status_differs = _status_differs(item, target, reports_forced=reports_forced)
    owns_status = bool(page.rules) and bool(
        owned_scopes(page.connector, mapping.variant_id, page.rules)
    )
    entry["hub_status"] = _shown(target, reports_forced=reports_forced)
    if reports_forced and item.forced_status != target.forced_status:
        forced = comparison.forced.setdefault(
            mapping.pk, _ForcedFinding(mapping, target, owns_status=owns_status)
        )
        forced.items.append(item)
    if not (quantity_differs or not_counted or status_differs):
        return
    if status_differs and owns_status and not quantity_differs and not reports_forced:
        entry.update(finding="status_taken_from_store", action="hub_status_updated")
        comparison.findings.append((mapping, item, entry))
        return
    entry["finding"] = "drift"
    if not_counted:
        entry["note"] = "the store does not count this item; map it as not managed"
        entry["action"] = "none"
    else:
        entry["action"] = "overwrite_queued"
        if mapping.variant_id in page.pending:
            entry["note"] = "a push of the hub's value was already pending"
    if status_differs and (reports_forced or not owns_status):
        comparison.status_resets.append((mapping, item))
    comparison.findings.append((mapping, item, entry))


def _correct(
    page: Page, comparison: Comparison, source: str, report: ReconciliationReport
) -> tuple[Outcome, list[dict]]:
    """Apply the page through the inbound path; returns its outcome and the count
    movements it made, as report entries."""
    connector = page.connector
    with transaction.atomic():
        outcome = apply_remote_stock(
            connector=connector,
            stock=[item for _, item in page.mapped],
            source=source,
            details={"reconciliation": report.pk},
        )
        # A store below the hub's accounts is kept while sales may be unreported; here,
        # with nothing from the store waiting, it is a merchant's edit and is corrected.
        settle_below_figures(
            connector=connector, mapping_ids=[mapping.pk for mapping in page.hub_owned]
        )
        if comparison.status_resets:
            _reset_confirmed_status(
                connector,
                comparison.status_resets,
                always_status=page.spec.push_mode == PushMode.PER_SOURCE,
            )
        for forced in comparison.forced.values():
            store_status = forced.items[0].forced_status
            if not forced.owns_status and store_status is not None:
                record_status_replaced(
                    connector=connector,
                    variant=forced.mapping.variant,
                    store_status=store_status,
                    hub_status=forced.target.forced_status,
                    source=source,
                    found_by="Reconciliation",
                )
        counted = _counted_movements(connector, source, page.mapped, page.locations)
    return outcome, counted


def _note_findings(
    comparison: Comparison, outcome: Outcome, counted: list[dict], tally: Tally
) -> None:
    stale = set(outcome.stale)
    for mapping, _item, entry in comparison.findings:
        labels = {f"{mapping.variant.sku}@{location or '-'}" for location in _locations(entry)}
        if labels <= stale:
            entry.update(finding="stale", action="none", note="older than what the hub applied")
        if entry.get("finding") == "drift":
            tally.drifted += 1
            if entry.get("action") in ("overwrite_queued", "manage_stock_followed"):
                tally.corrected += 1
        tally.note(entry)
    for entry in counted:
        tally.drifted += 1
        tally.corrected += 1
        tally.note(entry)


@dataclass(slots=True)
class _ForcedFinding:
    """A store's forced status that differs from the hub's, at each source it was read."""

    mapping: SkuMapping
    target: PushItem
    owns_status: bool
    items: list[RemoteStock] = field(default_factory=list)

    def entry(self) -> dict:
        first = self.items[0]
        entry = {
            "sku": self.mapping.variant.sku,
            "remote_id": first.remote_id,
            "locations": [item.location for item in self.items],
            "store_forced_status": str(first.forced_status) if first.forced_status else None,
            "hub_forced_status": (
                str(self.target.forced_status) if self.target.forced_status else None
            ),
        }
        if self.owns_status:
            entry.update(finding="status_taken_from_store", action="hub_status_updated")
        else:
            entry.update(finding="drift", action="overwrite_queued")
        return entry


def _locations(entry: dict) -> list[str]:
    return entry["locations"] if "locations" in entry else [entry.get("location", "")]


def _is_known_location(mode: PushMode, locations: dict, location: str) -> bool:
    if location in locations:
        return True
    return mode != PushMode.PER_SOURCE and not locations and location == ""


def _base_entry(mapping: SkuMapping, item: RemoteStock) -> dict:
    return {
        "sku": mapping.variant.sku,
        "remote_id": item.remote_id,
        "location": item.location,
        "store_quantity": item.quantity,
        "store_status": str(item.status),
        "store_forced_status": str(item.forced_status) if item.forced_status else None,
    }


def _is_out(status: RemoteStatus | None) -> bool:
    return status == RemoteStatus.OUT_OF_STOCK


def _shown(target: PushItem, *, reports_forced: bool) -> str | None:
    if reports_forced:
        return str(target.status) if target.status else None
    shown = target.forced_status or target.status
    return str(shown) if shown else None


def _status_differs(item: RemoteStock, target: PushItem, *, reports_forced: bool) -> bool:
    """Sellable or not, as the store shows it against what the hub pushes (a backorder
    status counts as sellable: not every store can tell it apart)."""
    if reports_forced:  # the forced status is compared once per product (_ForcedFinding)
        return target.status is not None and _is_out(item.status) != _is_out(target.status)
    if target.is_managed:
        return False  # the store derives it from the quantity
    wanted = target.forced_status or target.status
    return wanted is not None and _is_out(item.status) != _is_out(wanted)


def _reset_confirmed_status(
    connector: Connector, resets: list[tuple[SkuMapping, RemoteStock]], *, always_status: bool
) -> None:
    """Record the status the store really shows, so the queued push is not skipped as
    already confirmed."""
    records: dict[int, dict[str, dict]] = {}
    for mapping, item in resets:
        records.setdefault(mapping.pk, {})[item.location] = confirmed_status_record(
            item, always_status=always_status
        )
    locked = (
        SkuMapping.objects.select_for_update(no_key=True)
        .filter(pk__in=sorted(records))
        .order_by("pk")
    )
    variant_ids = []
    for mapping in locked:
        mapping.last_confirmed_status = {**mapping.last_confirmed_status, **records[mapping.pk]}
        mapping.save(update_fields=["last_confirmed_status", "updated_at"])
        variant_ids.append(mapping.variant_id)
    enqueue_connector_pushes(connector.pk, variant_ids)


def _counted_movements(
    connector: Connector,
    source: str,
    mapped: list[tuple[SkuMapping, RemoteStock]],
    locations: dict,
) -> list[dict]:
    """The count movements this page made at store-owned locations, as report entries."""
    wanted = {}
    for mapping, item in mapped:
        if location_store_owned(connector, locations, item.location):
            reference = f"{connector.pk}:{source}:{mapping.remote_id}:{item.location}"[:255]
            wanted[reference] = (mapping, item)
    if not wanted:
        return []
    entries = []
    for movement in StockMovement.objects.filter(
        source=MovementSource.CONNECTOR, reference__in=list(wanted)
    ).order_by("pk"):
        # Found by `reference__in=list(wanted)`: never NULL.
        mapping, item = wanted[cast(str, movement.reference)]
        entries.append(
            {
                **_base_entry(mapping, item),
                "finding": "drift",
                "action": "count_movement",
                "warehouse": locations[item.location].warehouse.code
                if item.location in locations
                else None,
                "hub_on_hand_before": movement.on_hand_after - movement.delta_on_hand,
                "hub_on_hand_after": movement.on_hand_after,
                "movement": movement.pk,
            }
        )
    return entries
