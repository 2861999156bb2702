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
from functools import partial

from django.db import transaction
from django.utils import timezone

from connectors.base import Connector as StoreConnector
from connectors.base import RemoteRejected
from connectors.capabilities import StockMappingStore
from connectors.dispatch import RECONCILE_CONNECTOR, connector_task
from connectors.engine.problems import record_problem, resolve_problems
from connectors.models import (
    Connector,
    ReconciliationReport,
    SkuMapping,
    SyncProblemKind,
    SyncRun,
    SyncRunKind,
)
from connectors.selectors import (
    location_mappings,
)
from connectors.sync.common import (
    STORE_FAILURES,
    RunClock,
    chunked,
    describe,
    finish_run,
    open_store,
    unmapped_hub_variants,
)
from connectors.sync.locks import connector_job_lock
from connectors.sync.reconcile_page import REPORT_LIST_LIMIT, Tally, reconcile_page
from connectors.sync.stocks import StockLayout, channel_sources, stock_mapping_store
from stock.selectors import channel_salable_many

logger = logging.getLogger(__name__)

CHUNK = 200
# Magento salable quantities compared per run (one request each): drifted SKUs first.
SALABLE_CHECK_LIMIT = 200


class CannotReadStock(Exception):
    """The store offers no way to read its stock (a partner without a feed)."""


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
        tally = Tally()
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
                reconcile_page(connector, store, report, chunk, tally, seen_remote)
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


def _compare_salable(connector: Connector, store: StoreConnector, tally: Tally) -> dict:
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
        mappings, chosen = _salable_sample(tally)
        differs = _compare_salable_of(connector, store, stock_id, stock_warehouses, chosen, tally)
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


def _salable_sample(tally: Tally) -> tuple[list[SkuMapping], list[SkuMapping]]:
    """The checked mappings, and those compared this run: the drifted ones first, then a
    random sample of the others, `SALABLE_CHECK_LIMIT` in all."""
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
    return mappings, chosen


def _compare_salable_of(
    connector: Connector,
    store: StockMappingStore,
    stock_id: int,
    stock_warehouses: set[str],
    chosen: list[SkuMapping],
    tally: Tally,
) -> int:
    """Compare each chosen SKU's salable quantity; returns how many differ."""
    assert connector.channel is not None
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
            part.counted for part in figures.breakdown if part.warehouse_code in stock_warehouses
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
    return differs


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
