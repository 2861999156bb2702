"""Reconciliation: read every mapped SKU's live quantity and status from a store, compare it
with what the hub means it to hold, correct by ownership, and keep a report.

- What the hub means a store to hold is `connectors.selectors.desired_push_items`, the
  push worker's own definition; nothing here computes a value of its own.
- Corrections go through the inbound path (`connectors.inbound.rules`: `apply_remote_stock`), as a
  webhook's records would: a hub-owned location that differs is drift, recorded, and an
  overwrite push is queued; a store-owned location becomes a count movement (reason sync,
  one reference per report, SKU and location, so a report is applied once). A status that
  differs where the hub owns it is overwritten too; where the store owns the SKU's status
  (a `StatusRule`), the hub takes it (status propagation).
- Counts: `checked` is mapped SKUs read; `drifted` and `corrected` count SKU-locations
  (a Magento SKU may drift at two sources). A forced status belongs to the product, not
  to a source: a difference counts once per product, its entry listing the sources read.
  A store's forced status that the hub overwrites leaves a `StatusChange` audit row.
- The report lists SKUs found on the store with no mapping, mapped SKUs the store no
  longer has, and the hub's SKUs that this connector does not map: none is skipped
  silently. Per-SKU details are kept for every SKU that was not in sync.
- A Magento connector with a `stock_id` (the stock standing for its hub channel) also has
  Magento's salable quantity on that stock compared, like with like, with the hub's: Σ of
  what the channel counts from the warehouses mapped to the sources that stock links,
  before the channel's safety buffer and cap. Magento computes salable as those sources'
  quantities minus its reservations (its orders not yet shipped); the hub pushes each
  source's available quantity plus what it holds for this channel's open orders, so the
  two agree once the hub knows every order. The buffer and cap are the channel's, not a
  warehouse's: no source quantity can carry them, and Magento's own hold-back (the
  out-of-stock threshold) is a merchant's product setting, so comparing against the
  channel's final figure would report every SKU, every run, with nothing to fix. A
  difference is a `salable_differs` entry in the details (the channel's own salable
  beside it), report only (corrections stay per source). Magento answers one SKU per
  request, so only the SKUs found drifted and a random sample of the others,
  `SALABLE_CHECK_LIMIT` SKUs in all, are compared per run; the
  run's details count those compared and left out.

Runs nightly from beat (`reconcile_all_task`) and on demand (admin, API). One run per
connector at a time.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial

from django.db import transaction
from django.utils import timezone

from connectors.base import Connector as StoreConnector
from connectors.base import PushItem, RemoteRejected, RemoteStatus, RemoteStock
from connectors.dispatch import RECONCILE_CONNECTOR, connector_task
from connectors.engine.accounting import settle_below_figures
from connectors.engine.problems import record_problem, resolve_problems
from connectors.inbound.rules.snapshots import apply_remote_stock
from connectors.models import (
    Connector,
    OutboxItem,
    OutboxState,
    ReconciliationReport,
    SkuMapping,
    SyncProblemKind,
    SyncRun,
    SyncRunKind,
)
from connectors.outbox import enqueue_connector_pushes
from connectors.registry import PushMode, kind_spec
from connectors.selectors import (
    MissingChannel,
    desired_push_items,
    location_mappings,
    location_store_owned,
)
from connectors.sync.common import (
    STORE_FAILURES,
    MappingIndex,
    RunClock,
    chunked,
    describe,
    finish_run,
    open_store,
    unmapped_hub_variants,
)
from connectors.sync.locks import connector_job_lock
from connectors.sync.setup import confirmed_status_record
from connectors.sync.status import owned_scopes, record_status_replaced, rules_involving
from connectors.sync.stocks import StockLayout, channel_sources, stock_mapping_store
from stock.models import MovementSource, StockMovement
from stock.selectors import channel_salable_many

logger = logging.getLogger(__name__)

CHUNK = 200
# Entries kept in a report's lists (its counters are always exact).
REPORT_LIST_LIMIT = 5000
# Magento salable quantities compared per run (one request each): drifted SKUs first.
SALABLE_CHECK_LIMIT = 200


class CannotReadStock(Exception):
    """The store offers no way to read its stock (a partner without a feed)."""


@dataclass(slots=True)
class _Tally:
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


def start_reconciliation(*, connector_id: int) -> ReconciliationReport:
    """A report row for a run that a worker performs after the caller's commit."""
    with transaction.atomic():
        report = ReconciliationReport.objects.create(connector_id=connector_id)
        transaction.on_commit(partial(_queue, connector_id=connector_id, report=report.pk))
    return report


def _queue(*, connector_id: int, report: int) -> None:
    try:
        connector_task(RECONCILE_CONNECTOR).delay(connector_id, report)
    except Exception:
        # The report stays unfinished (is_ok empty); the next nightly run covers the store.
        logger.exception("Could not queue the reconciliation of connector %s", connector_id)


def reconcile_connector(*, connector_id: int, report_id: int | None = None) -> ReconciliationReport:
    """Reconcile one store (see the module docstring) and return its finished report."""
    report = (
        ReconciliationReport.objects.get(pk=report_id, connector_id=connector_id)
        if report_id is not None
        else ReconciliationReport.objects.create(connector_id=connector_id)
    )
    with connector_job_lock("reconcile", connector_id) as acquired:
        if not acquired:
            return _finish_report(
                report, error="Another reconciliation of this connector was running."
            )
        connector = Connector.objects.select_related("channel").get(pk=connector_id)
        clock = RunClock()
        run = SyncRun.objects.create(
            connector=connector, kind=SyncRunKind.RECONCILE, started_at=clock.started_at
        )
        report.sync_run = run
        report.save(update_fields=["sync_run"])
        tally = _Tally()
        error = ""
        try:
            store = open_store(connector)
            if not can_read_stock(store):
                raise CannotReadStock(
                    f"{connector.name} cannot be reconciled: the store offers no stock to read "
                    "(a partner needs a feed_url)."
                )
            seen_remote: set[str] = set()
            for chunk in chunked(store.pull_stock(), CHUNK):
                tally.records += len(chunk)
                _reconcile_chunk(connector, store, report, chunk, tally, seen_remote)
        except (*STORE_FAILURES, CannotReadStock) as exc:
            error = describe(exc)
        unmapped = list(tally.unmapped_store)
        missing = 0
        hub_count = 0
        salable_counts: dict = {}
        if not error:
            salable_counts = _compare_salable(connector, store, tally)
            missing_entries = _missing_on_store(connector, seen_remote)
            missing = len(missing_entries)
            hub_count, hub_entries = unmapped_hub_variants(connector)
            unmapped += missing_entries + hub_entries
        report.checked = len(tally.checked)
        report.drifted = tally.drifted
        report.corrected = tally.corrected
        report.unmapped = unmapped[:REPORT_LIST_LIMIT]
        report.details = tally.details
        _finish_report(report, error=error)
        counts = {
            "records": tally.records,
            "unmapped_store": tally.unmapped_store_count,
            "missing_on_store": missing,
            "unmapped_hub": hub_count,
            "report": report.pk,
            **salable_counts,
        }
        finish_run(
            run,
            clock,
            error=error,
            item_count=report.checked,
            changed_count=report.corrected,
            failed_count=report.drifted - report.corrected,
            details=counts,
        )
        _record_problems(connector, report, counts, error)
        return report


def can_read_stock(store: StoreConnector) -> bool:
    options = getattr(store, "options", None)
    if store.kind == "partner" and options is not None:
        return bool(getattr(options, "feed_url", ""))
    return True


def _finish_report(report: ReconciliationReport, *, error: str) -> ReconciliationReport:
    report.finished_at = timezone.now()
    report.is_ok = not error
    report.error = error[:2000]
    report.save()
    return report


def _record_problems(
    connector: Connector, report: ReconciliationReport, counts: dict, error: str
) -> None:
    if error:
        logger.warning("Reconciliation of connector %s failed: %s", connector.pk, error)
        Connector.objects.filter(pk=connector.pk).update(last_error=error[:2000])
        record_problem(
            connector_id=connector.pk,
            kind=SyncProblemKind.RECONCILE_FAILED,
            message=f"Reconciling {connector.name} failed: {error}",
            details={"report": report.pk},
        )
        return
    resolve_problems(connector_id=connector.pk, kinds=[SyncProblemKind.RECONCILE_FAILED])
    unmapped_total = counts["unmapped_store"] + counts["missing_on_store"] + counts["unmapped_hub"]
    if unmapped_total:
        record_problem(
            connector_id=connector.pk,
            kind=SyncProblemKind.UNMAPPED,
            message=f"Reconciling {connector.name}: {counts['unmapped_store']} store item(s) "
            f"without a mapping, {counts['missing_on_store']} mapped SKU(s) missing on the "
            f"store, {counts['unmapped_hub']} hub SKU(s) not mapped (report {report.pk}).",
            details={"report": report.pk, **counts},
        )


# --- Channel salable quantity against the Magento stock ----------------------------------------


def _compare_salable(connector: Connector, store: StoreConnector, tally: _Tally) -> dict:
    """Note where Magento's salable quantity on the connector's stock differs from the hub
    channel's (see the module docstring). Returns counts for the run's details."""
    options = getattr(store, "options", None)
    stock_id = getattr(options, "stock_id", None)
    if stock_id is None or not stock_mapping_store(store) or connector.channel is None:
        return {}
    if not tally.checked:
        return {"salable_compared": 0}
    try:
        layout = StockLayout.read(store)
        reason = layout.why_not(stock_id, channel_sources(connector))
        if reason:
            record_problem(
                connector_id=connector.pk,
                kind=SyncProblemKind.STOCK_UNMAPPED,
                message=f"{connector.name}: stock_id {stock_id} is wrong: {reason}.",
            )
            tally.note(
                {
                    "sku": None,
                    "finding": "salable_not_compared",
                    "stock_id": stock_id,
                    "note": reason,
                }
            )
            return {"salable_compared": 0, "salable_not_compared": reason}
        linked = layout.linked.get(stock_id, frozenset())
        stock_warehouses = {
            location.warehouse.code
            for code, location in location_mappings(connector).items()
            if code in linked
        }
        mappings = list(
            SkuMapping.objects.filter(pk__in=tally.checked)
            .select_related("variant")
            .order_by("variant__sku")
        )
        drifted_skus = {entry.get("sku") for entry in tally.details if entry.get("finding")}
        drifted = [m for m in mappings if m.variant.sku in drifted_skus][:SALABLE_CHECK_LIMIT]
        others = [m for m in mappings if m.variant.sku not in drifted_skus]
        room = SALABLE_CHECK_LIMIT - len(drifted)
        chosen = drifted + (random.sample(others, room) if len(others) > room else others)
        hub = channel_salable_many(connector.channel, [mapping.variant for mapping in chosen])
        differs = 0
        for mapping in chosen:
            entry = {"sku": mapping.variant.sku, "remote_id": mapping.remote_id}
            try:
                store_salable = store.salable_quantity(sku=mapping.remote_id, stock_id=stock_id)
            except RemoteRejected as exc:  # a configurable product has no salable quantity
                tally.note({**entry, "finding": "salable_not_read", "note": describe(exc)})
                continue
            figures = hub[mapping.variant_id]
            hub_salable = sum(
                part.counted
                for part in figures.breakdown
                if part.warehouse_code in stock_warehouses
            )
            if store_salable != hub_salable:
                differs += 1
                tally.note(
                    {
                        **entry,
                        "finding": "salable_differs",
                        "action": "none",
                        "stock_id": stock_id,
                        "store_salable": store_salable,
                        "hub_salable": hub_salable,
                        "channel_salable": figures.salable,
                    }
                )
    except STORE_FAILURES as exc:
        # Corrections are done by now: the report stays, saying the comparison broke off.
        tally.note(
            {
                "sku": None,
                "finding": "salable_not_compared",
                "stock_id": stock_id,
                "note": describe(exc),
            }
        )
        return {"salable_compared": 0, "salable_not_compared": describe(exc)}
    return {
        "salable_compared": len(chosen),
        "salable_left_out": len(mappings) - len(chosen),
        "salable_differs": differs,
        "salable_channel_buffer": connector.channel.safety_buffer,
    }


# --- One page of the store --------------------------------------------------------------------


def _reconcile_chunk(
    connector: Connector,
    store: StoreConnector,
    report: ReconciliationReport,
    chunk: Sequence[RemoteStock],
    tally: _Tally,
    seen_remote: set[str],
) -> None:
    spec = kind_spec(connector.kind)
    locations = location_mappings(connector)
    index = MappingIndex.for_items(connector, chunk)
    mapped: list[tuple[SkuMapping, RemoteStock]] = []
    for item in chunk:
        mapping = index.find(item)
        if mapping is None:
            tally.unmapped_store_count += 1
            if len(tally.unmapped_store) < REPORT_LIST_LIMIT:
                tally.unmapped_store.append(
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
            tally.unmapped_store_count += 1
            if len(tally.unmapped_store) < REPORT_LIST_LIMIT:
                tally.unmapped_store.append(
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
    if not mapped:
        return

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
    rules = rules_involving(connector)
    reports_forced = store.reports_forced_status
    always_status = spec.push_mode == PushMode.PER_SOURCE

    findings: list[tuple[SkuMapping, RemoteStock, dict]] = []
    status_resets: list[tuple[SkuMapping, RemoteStock]] = []
    # A forced status is the product's, not a source's: one finding per product.
    forced_findings: dict[int, _ForcedFinding] = {}
    for mapping, item in mapped:
        if location_store_owned(connector, locations, item.location):
            continue  # read back from the ledger once applied
        entry = _base_entry(mapping, item)
        target = wanted.get((mapping.pk, item.location))
        if target is None:
            entry.update(finding="not_compared", note=missing_channel or "no value to compare")
            findings.append((mapping, item, entry))
            continue
        if spec.reports_manage_stock and item.is_managed != mapping.is_managed:
            entry.update(
                finding="drift",
                action="manage_stock_followed",
                note="the store switched counting this item "
                + ("on" if item.is_managed else "off")
                + "; the mapping follows and the hub pushes what the store can show",
            )
            findings.append((mapping, item, entry))
            continue
        entry["hub_quantity"] = target.quantity if target.is_managed else None
        quantity_differs = (
            target.is_managed and item.quantity is not None and item.quantity != target.quantity
        )
        not_counted = target.is_managed and item.quantity is None
        status_differs = _status_differs(item, target, reports_forced=reports_forced)
        owns_status = bool(rules) and bool(owned_scopes(connector, mapping.variant_id, rules))
        entry["hub_status"] = _shown(target, reports_forced=reports_forced)
        if reports_forced and item.forced_status != target.forced_status:
            forced = forced_findings.setdefault(
                mapping.pk, _ForcedFinding(mapping, target, owns_status=owns_status)
            )
            forced.items.append(item)
        if not (quantity_differs or not_counted or status_differs):
            continue
        if status_differs and owns_status and not quantity_differs and not reports_forced:
            entry.update(finding="status_taken_from_store", action="hub_status_updated")
            findings.append((mapping, item, entry))
            continue
        entry["finding"] = "drift"
        if not_counted:
            entry["note"] = "the store does not count this item; map it as not managed"
            entry["action"] = "none"
        else:
            entry["action"] = "overwrite_queued"
            if mapping.variant_id in pending:
                entry["note"] = "a push of the hub's value was already pending"
        if status_differs and (reports_forced or not owns_status):
            status_resets.append((mapping, item))
        findings.append((mapping, item, entry))
    for forced in forced_findings.values():
        if not forced.owns_status:
            status_resets.extend((forced.mapping, item) for item in forced.items)
        findings.append((forced.mapping, forced.items[0], forced.entry()))

    source = f"reconcile-{report.pk}"
    with transaction.atomic():
        outcome = apply_remote_stock(
            connector=connector,
            stock=[item for _, item in mapped],
            source=source,
            details={"reconciliation": report.pk},
        )
        # A store below the hub's accounts is kept while sales may be unreported; here,
        # with nothing from the store waiting, it is a merchant's edit and is corrected.
        settle_below_figures(connector=connector, mapping_ids=[mapping.pk for mapping in hub_owned])
        if status_resets:
            _reset_confirmed_status(connector, status_resets, always_status=always_status)
        for forced in forced_findings.values():
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
        counted = _counted_movements(connector, source, mapped, locations)
    stale = set(outcome.stale)
    for mapping, _item, entry in findings:
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
        mapping, item = wanted[movement.reference]
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


def _missing_on_store(connector: Connector, seen_remote: set[str]) -> list[dict]:
    missing = (
        SkuMapping.objects.filter(connector=connector)
        .exclude(remote_id__in=seen_remote)
        .select_related("variant")
        .order_by("variant__sku")
    )
    return [
        {
            "side": "hub",
            "sku": mapping.variant.sku,
            "remote_id": mapping.remote_id,
            "reason": "not_on_store",
        }
        for mapping in missing
    ]
