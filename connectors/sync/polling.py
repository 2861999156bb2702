"""Polling: for stores without webhooks, and as the safety net under those with them.

`poll_connector` reads the store's stock (only what changed since the last poll where the
API can filter by modification time, everything otherwise) and its orders (always since
the last poll, or since the connector was created: a first poll never replays a store's
history of orders), page by page, and hands every record to the inbound path
(`connectors.inbound.rules`: `apply_remote_stock` / `apply_remote_orders`): ownership, echoes,
staleness and dedupe are decided there, exactly as for a webhook.

Stock and orders are the poll's two parts, each with its own cursor: `last_pull_at` is
the start of the last poll whose stock part applied everything it read,
`orders_pulled_at` the same for orders. Each poll re-reads
`CONNECTORS_POLL_OVERLAP_SECONDS` before a cursor, so a change made while a poll runs, or
stamped by a store clock running behind, is read again rather than lost; re-reading is
harmless. A part that could not read or apply something keeps its cursor, so the next
poll tries it again, while the other part's progress counts; the run's details and the
`poll_failed` problem name the part that failed (`failed_parts`).

The beat sweeper (`due_connector_ids`) polls each active connector whose
`poll_interval_seconds` (0: never) has passed since its last poll started.

Orders alone, often (`poll_orders`): a connector with the option
`order_poll_interval_seconds` (Magento, which sends no webhooks) also reads just its new and
changed orders that often: one incremental request (`updated_at` from its own cursor,
`Connector.orders_pulled_at`, less `CONNECTORS_ORDER_POLL_OVERLAP_SECONDS`), applied
through the same inbound path, without reading stock. Its own beat sweep
(`due_order_poll_ids`, every `CONNECTORS_ORDER_POLL_SWEEP_SECONDS`) is one query on the
indexed `next_order_poll_at`; the full poll keeps its own interval and cursor.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from connectors.engine.problems import record_problem, resolve_problems
from connectors.inbound.rules.common import Outcome, is_deterministic_refusal
from connectors.inbound.rules.orders import apply_remote_orders, record_order_refused
from connectors.inbound.rules.snapshots import apply_remote_stock
from connectors.models import Connector, SyncProblemKind, SyncRun, SyncRunKind
from connectors.sync.common import (
    LIST_LIMIT,
    STORE_FAILURES,
    MappingIndex,
    RunClock,
    chunked,
    describe,
    finish_run,
    open_store,
)
from connectors.sync.locks import connector_job_lock
from connectors.sync.setup import SetupBusy, has_been_set_up, set_up_connector

logger = logging.getLogger(__name__)

STOCK_CHUNK = 200
ORDER_CHUNK = 50


ORDER_POLL_OPTION = "order_poll_interval_seconds"
# The kinds whose store class takes the option (WooCommerce's orders come by webhook).
ORDER_POLL_KINDS = ("magento",)
# A sweep marks what it queues as taken for this long, so a slow or lost order poll is
# neither queued again every sweep nor forgotten.
ORDER_POLL_CLAIM_SECONDS = 30.0
# After a failed order read, wait at least this long before the next one.
ORDER_POLL_RETRY_SECONDS = 10.0


def overlap_seconds() -> float:
    return float(settings.CONNECTORS_POLL_OVERLAP_SECONDS)


def order_overlap_seconds() -> float:
    return float(settings.CONNECTORS_ORDER_POLL_OVERLAP_SECONDS)


def order_poll_interval(connector: Connector) -> int | None:
    """The connector's `order_poll_interval_seconds` (checked by its store class), or None."""
    value = (connector.options or {}).get(ORDER_POLL_OPTION)
    if connector.kind not in ORDER_POLL_KINDS:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        return None
    return value


@dataclass(slots=True)
class PollReport:
    connector_id: int
    status: str = "done"  # done | busy | inactive | failed
    sync_run_id: int | None = None
    stock_records: int = 0
    orders: int = 0
    counted: int = 0
    in_sync: int = 0
    echoes: int = 0
    drifted: int = 0
    stale: int = 0
    unmapped: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    # "stock" / "orders": why that part of the poll did not read or apply everything.
    failed_parts: dict[str, str] = field(default_factory=dict)
    stock_since: str | None = None
    orders_since: str | None = None

    def add(self, outcome: Outcome) -> None:
        self.counted += outcome.counted
        self.in_sync += outcome.in_sync
        self.echoes += outcome.echoes
        self.drifted += len(outcome.drifted)
        self.stale += len(outcome.stale)


def poll_connector(*, connector_id: int, full: bool = False) -> PollReport:
    """Poll one store (see the module docstring). `full` reads all stock, not only what
    changed. A connector never set up is set up first (its SKUs matched: the first sync).
    Returns at once with status "busy" while another poll of it runs."""
    with connector_job_lock("poll", connector_id) as acquired:
        if not acquired:
            return PollReport(connector_id=connector_id, status="busy")
        connector = Connector.objects.select_related("channel").filter(pk=connector_id).first()
        if connector is None or not connector.is_active:
            return PollReport(connector_id=connector_id, status="inactive")
        if not has_been_set_up(connector):
            try:
                set_up_connector(connector_id=connector.pk)
            except SetupBusy:
                return PollReport(connector_id=connector_id, status="busy")
            connector.refresh_from_db()
            full = True
        return _poll(connector, full=full)


def _poll(connector: Connector, *, full: bool) -> PollReport:
    clock = RunClock()
    run = SyncRun.objects.create(
        connector=connector, kind=SyncRunKind.POLL, started_at=clock.started_at
    )
    report = PollReport(connector_id=connector.pk, sync_run_id=run.pk)
    overlap = timedelta(seconds=overlap_seconds())
    stock_since: datetime | None = None
    if not full and connector.last_pull_at is not None:
        stock_since = connector.last_pull_at - overlap
    orders_since = (connector.orders_pulled_at or connector.created_at) - overlap
    report.stock_since = stock_since.isoformat() if stock_since else None
    report.orders_since = orders_since.isoformat()
    _read_store(connector, run, report, stock_since=stock_since, orders_since=orders_since)
    if report.unmapped:
        record_problem(
            connector_id=connector.pk,
            kind=SyncProblemKind.UNMAPPED,
            message=f"Polling {connector.name}: {len(report.unmapped)} store item(s) without "
            f"a mapping: {', '.join(report.unmapped[:20])}",
            details={"sync_run": run.pk, "unmapped": report.unmapped[:500]},
        )
    cursors, error = _record_failures(connector, run, report, clock)
    # What was read whole moves on (minus the overlap next time); a failed part re-reads.
    Connector.objects.filter(pk=connector.pk).update(**cursors)
    details = asdict(report)
    details["unmapped"] = report.unmapped[:LIST_LIMIT]
    finish_run(
        run,
        clock,
        error=error,
        item_count=report.stock_records + report.orders,
        changed_count=report.counted + report.drifted + report.orders,
        failed_count=len(report.failures),
        details=details,
    )
    return report


def _read_store(
    connector: Connector,
    run: SyncRun,
    report: PollReport,
    *,
    stock_since: datetime | None,
    orders_since: datetime,
) -> None:
    """Read the store's stock and orders since the cursors and apply them; each part that
    fails is noted in `report.failed_parts`."""
    source = f"poll-{run.pk}"
    try:
        store = open_store(connector)
    except STORE_FAILURES as exc:
        store = None
        report.failed_parts = {"stock": describe(exc), "orders": describe(exc)}
    if store is not None:
        try:
            for chunk in chunked(store.pull_stock(modified_after=stock_since), STOCK_CHUNK):
                report.stock_records += len(chunk)
                _apply_stock_chunk(connector, chunk, source, run, report)
        except STORE_FAILURES as exc:
            report.failed_parts["stock"] = describe(exc)
        # A refused orders read must not undo the stock read that worked, nor the other
        # way round: each part keeps its own cursor.
        if connector.channel_id is not None:
            try:
                orders = chunked(store.pull_orders(modified_after=orders_since), ORDER_CHUNK)
                for orders_chunk in orders:
                    _apply_order_chunk(connector, orders_chunk, report)
            except STORE_FAILURES as exc:
                report.failed_parts["orders"] = describe(exc)
            if report.failures and "orders" not in report.failed_parts:
                report.failed_parts["orders"] = (
                    f"{len(report.failures)} order(s) not applied: {report.failures[0]}"
                )


def _record_failures(
    connector: Connector, run: SyncRun, report: PollReport, clock: RunClock
) -> tuple[dict, str]:
    """The cursors to move (the parts read whole) and the poll's error, recorded as a
    problem (or the problem resolved)."""
    cursors: dict[str, datetime | str] = {}
    if "stock" not in report.failed_parts:
        cursors["last_pull_at"] = clock.started_at
    if "orders" not in report.failed_parts:
        cursors["orders_pulled_at"] = clock.started_at
    error = "; ".join(f"{part}: {why}" for part, why in report.failed_parts.items())
    if error:
        report.status = "failed"
        logger.warning("Polling connector %s: %s", connector.pk, error)
        cursors["last_error"] = error[:2000]
        record_problem(
            connector_id=connector.pk,
            kind=SyncProblemKind.POLL_FAILED,
            message=f"Polling {connector.name}: {error}",
            details={
                "sync_run": run.pk,
                "failed_parts": report.failed_parts,
                "failures": report.failures[:100],
            },
        )
    else:
        resolve_problems(connector_id=connector.pk, kinds=[SyncProblemKind.POLL_FAILED])
    return cursors, error


def _apply_stock_chunk(connector, chunk, source: str, run: SyncRun, report: PollReport) -> None:
    index = MappingIndex.for_items(connector, chunk)
    mapped = []
    for item in chunk:
        if index.find(item) is None:
            report.unmapped.append(item.sku or item.remote_id)
        else:
            mapped.append(item)
    if not mapped:
        return
    with transaction.atomic():
        outcome = apply_remote_stock(
            connector=connector, stock=mapped, source=source, details={"sync_run": run.pk}
        )
    report.add(outcome)


def _apply_order_chunk(connector, chunk, report: PollReport) -> None:
    for order in chunk:
        try:
            with transaction.atomic():
                apply_remote_orders(connector=connector, orders=[order])
        except Exception as exc:
            if is_deterministic_refusal(exc):
                # No later poll could apply it either: reported, and the cursor moves on.
                record_order_refused(connector=connector, reference=order.reference, error=exc)
                continue
            # Kept for the next poll (the cursor does not move past it) and reported.
            logger.warning(
                "Polling connector %s: order %s not applied: %s",
                connector.pk,
                order.reference,
                describe(exc),
            )
            report.failures.append(f"order {order.reference}: {describe(exc)}")
        else:
            report.orders += 1


def poll_orders(*, connector_id: int) -> PollReport:
    """Read and apply the store's orders changed since the last order poll, nothing else
    (see the module docstring). Status "busy" while another order poll of it runs, "off"
    when the connector does not ask for it (it is then no longer swept)."""
    with connector_job_lock("orders", connector_id) as acquired:
        if not acquired:
            return PollReport(connector_id=connector_id, status="busy")
        connector = Connector.objects.filter(pk=connector_id).first()
        if connector is None or not connector.is_active:
            return PollReport(connector_id=connector_id, status="inactive")
        interval = order_poll_interval(connector)
        if interval is None or connector.channel_id is None or not has_been_set_up(connector):
            # Set up (SKUs matched) by the full poll first; until then nothing to apply to.
            Connector.objects.filter(pk=connector.pk).update(
                next_order_poll_at=None
                if interval is None
                else timezone.now() + timedelta(seconds=ORDER_POLL_RETRY_SECONDS)
            )
            return PollReport(connector_id=connector_id, status="off")
        return _poll_orders(connector, interval)


def _poll_orders(connector: Connector, interval: int) -> PollReport:
    started_at = timezone.now()
    cursor = connector.orders_pulled_at or connector.last_pull_at or connector.created_at
    since = cursor - timedelta(seconds=order_overlap_seconds())
    report = PollReport(connector_id=connector.pk, orders_since=since.isoformat())
    error = ""
    try:
        store = open_store(connector)
        for chunk in chunked(store.pull_orders(modified_after=since), ORDER_CHUNK):
            _apply_order_chunk(connector, chunk, report)
    except STORE_FAILURES as exc:
        error = describe(exc)
    if error or report.failures:
        report.status = "failed"
        message = error or f"{len(report.failures)} order(s) not applied: {report.failures[0]}"
        logger.warning("Polling orders of connector %s: %s", connector.pk, message)
        record_problem(
            connector_id=connector.pk,
            kind=SyncProblemKind.POLL_FAILED,
            message=f"Polling {connector.name}'s orders: {message}",
            details={"failures": report.failures[:100]},
        )
        # The cursor stays: the next read tries the same orders again.
        Connector.objects.filter(pk=connector.pk).update(
            last_error=message[:2000],
            next_order_poll_at=started_at
            + timedelta(seconds=max(interval, ORDER_POLL_RETRY_SECONDS)),
        )
    else:
        Connector.objects.filter(pk=connector.pk).update(
            orders_pulled_at=started_at,
            next_order_poll_at=started_at + timedelta(seconds=interval),
        )
    return report


def due_order_poll_ids(*, now: datetime | None = None) -> list[int]:
    """Active connectors whose order poll is due, marked as taken for a while (one query
    on the indexed `next_order_poll_at`, plus a write only when something is due). One
    never swept yet is due as soon as it has the option."""
    now = now or timezone.now()
    due = list(
        Connector.objects.filter(is_active=True, kind__in=ORDER_POLL_KINDS)
        .filter(
            Q(next_order_poll_at__lte=now)
            | Q(next_order_poll_at__isnull=True, options__has_key=ORDER_POLL_OPTION)
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if due:
        # Beat is one process: nobody else claims these between the read and this write.
        Connector.objects.filter(pk__in=due).update(
            next_order_poll_at=now + timedelta(seconds=ORDER_POLL_CLAIM_SECONDS)
        )
    return due


def due_connector_ids(*, now: datetime | None = None) -> list[int]:
    """Active connectors that poll, whose interval has passed since their last poll began."""
    now = now or timezone.now()
    rows = (
        Connector.objects.filter(is_active=True, poll_interval_seconds__gt=0)
        .annotate(last_poll=Max("sync_runs__started_at", filter=Q(sync_runs__kind="poll")))
        .values_list("pk", "poll_interval_seconds", "last_poll")
        .order_by("pk")
    )
    return [
        pk
        for pk, interval, last_poll in rows
        if last_poll is None or last_poll <= now - timedelta(seconds=interval)
    ]
