"""One push run: take the connector's push lock, then claim, plan, send and settle rounds of
rows until none is due, the store fails or the time budget is spent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import requests
from django.utils import timezone

from connectors.base import Connector as StoreConnector
from connectors.base import (
    PushItem,
    PushNotConfigured,
    PushResult,
    RemoteError,
    RemoteRejected,
    RemoteThrottled,
)
from connectors.engine.accounting import plan_push
from connectors.engine.http import RateLimitedSession
from connectors.engine.locks import try_connector_lock
from connectors.engine.problems import record_problem
from connectors.engine.push.breaker import (
    breaker_retry_at,
    describe_failure,
    record_failure,
    record_success,
)
from connectors.engine.push.claims import (
    ClaimedRow,
    claim_rows,
    has_due_rows,
    lease_seconds,
    mark_dead,
    release_rows,
)
from connectors.engine.push.config import PushSettings, push_settings
from connectors.engine.push.confirmations import (
    close_in_flight,
    close_unconfirmed,
    finish_sent,
    remember_pushed,
)
from connectors.models import (
    CircuitState,
    Connector,
    SkuMapping,
    SyncProblemKind,
    SyncRun,
    SyncRunKind,
)
from connectors.registry import build_connector
from connectors.selectors import MissingChannel, desired_push_items, is_confirmed

logger = logging.getLogger(__name__)

# Advisory lock namespace ("push" in ASCII), paired with the connector id.
PUSH_LOCK_NAMESPACE = 0x70757368


@dataclass(slots=True)
class PushReport:
    connector_id: int
    status: str = "done"  # done | busy | inactive | paused | circuit_open | failed | throttled
    rounds: int = 0
    claimed: int = 0
    pushed: int = 0  # items sent to the store
    confirmed: int = 0
    skipped: int = 0  # items equal to what the store last confirmed
    sent_rows: int = 0
    retried_rows: int = 0
    dead_rows: int = 0
    has_more: bool = False
    errors: list[str] = field(default_factory=list)


def push_outbox(*, connector_id: int) -> PushReport:
    """Push every due outbox row of one connector, round after round, within a time budget.

    Returns at once (status "busy") when another run holds this connector.
    """
    with connector_push_lock(connector_id) as acquired:
        if not acquired:
            return PushReport(connector_id=connector_id, status="busy")
        return _push_locked(connector_id, push_settings())


@contextmanager
def connector_push_lock(connector_id: int) -> Iterator[bool]:
    """Hold the connector's push lock (never waits: yields False when someone has it)."""
    with try_connector_lock(PUSH_LOCK_NAMESPACE, connector_id) as acquired:
        yield acquired


def _push_locked(connector_id: int, config: PushSettings) -> PushReport:
    report = PushReport(connector_id=connector_id)
    deadline = time.monotonic() + config.time_budget_seconds
    while True:
        connector = Connector.objects.select_related("channel").filter(pk=connector_id).first()
        if connector is None or not connector.is_active:
            report.status = "inactive"
            return report
        now = timezone.now()
        if connector.paused_until and connector.paused_until > now:
            report.status = "paused"
            return report
        limit = config.batch_size
        if connector.circuit_state == CircuitState.OPEN:
            if now < breaker_retry_at(connector, config):
                report.status = "circuit_open"
                return report
            Connector.objects.filter(pk=connector.pk, circuit_state=CircuitState.OPEN).update(
                circuit_state=CircuitState.HALF_OPEN
            )
            connector.circuit_state = CircuitState.HALF_OPEN
        if connector.circuit_state == CircuitState.HALF_OPEN:
            limit = 1  # one trial row while the store proves it is back
        rows = claim_rows(connector, limit=limit, lease_seconds=lease_seconds(connector, config))
        if not rows:
            report.status = "done"
            return report
        report.rounds += 1
        report.claimed += len(rows)
        if not _push_round(connector, rows, config, report):
            return report
        if time.monotonic() > deadline:
            report.has_more = has_due_rows(connector_id)
            return report


_sessions: dict[int, tuple[tuple[float, float], RateLimitedSession]] = {}


def store_for(connector: Connector) -> StoreConnector:
    """The store object, on a session kept per connector in this process, so keep-alive
    connections and the rate limit's budget last from one run to the next."""
    key = (connector.push_rate_per_second, connector.timeout_seconds)
    cached = _sessions.get(connector.pk)
    if cached is None or cached[0] != key:
        session = RateLimitedSession(
            requests_per_second=connector.push_rate_per_second,
            timeout_seconds=connector.timeout_seconds,
        )
        _sessions[connector.pk] = (key, session)
    else:
        session = cached[1]
    return build_connector(connector, session=session)


@dataclass(slots=True)
class _Sent:
    """What one round's requests came back with."""

    results: dict[PushItem, PushResult] = field(default_factory=dict)
    rejected: dict[int, str] = field(default_factory=dict)  # row id -> the store's refusal
    failure: BaseException | None = None
    reached_store: bool = False


@dataclass(slots=True)
class _SortedRows:
    """The sent rows by what becomes of them."""

    confirmed: list[ClaimedRow] = field(default_factory=list)
    retry: list[tuple[ClaimedRow, str]] = field(default_factory=list)
    dead: list[tuple[ClaimedRow, str]] = field(default_factory=list)
    unanswered: list[ClaimedRow] = field(default_factory=list)


def _push_round(
    connector: Connector, rows: list[ClaimedRow], config: PushSettings, report: PushReport
) -> bool:
    """Push one claimed batch. False when the run must stop (store down, throttled)."""
    mappings = _mappings_for(connector, rows)
    try:
        desired = desired_push_items(connector, list(mappings.values()))
    except MissingChannel as exc:
        release_rows(rows, config, error=str(exc))
        record_problem(connector_id=connector.pk, kind=SyncProblemKind.OTHER, message=str(exc))
        report.status = "failed"
        report.errors.append(str(exc))
        return False
    wanted = _plan_items(connector, rows, mappings, desired, report)
    to_send = [row for row in rows if row.id in wanted]
    if not to_send:
        return True

    remember_pushed(connector, [item for row in to_send for item in wanted[row.id]])
    store = store_for(connector)
    started_at = timezone.now()
    clock = time.monotonic()
    sent = _send(store, connector, to_send, wanted, report)
    latency_ms = int((time.monotonic() - clock) * 1000)
    unanswered = _settle_rows(connector, to_send, wanted, mappings, sent, config, report)
    if sent.failure is None:
        if sent.reached_store:
            record_success(connector)
        _log_run(connector, started_at, latency_ms, to_send, wanted, sent, None)
        return True

    message = describe_failure(sent.failure)
    report.errors.append(message)
    _stop_after_failure(connector, sent.failure, message, unanswered, config, report)
    report.retried_rows += len(unanswered)
    _log_run(connector, started_at, latency_ms, to_send, wanted, sent, message)
    return False


def _mappings_for(connector: Connector, rows: list[ClaimedRow]) -> dict[int, SkuMapping]:
    """The claimed rows' mappings by variant id, with no relative change left in flight."""
    mappings = {
        mapping.variant_id: mapping
        for mapping in SkuMapping.objects.filter(
            connector=connector, variant_id__in=[row.variant_id for row in rows]
        ).select_related("variant")
    }
    if any(mapping.in_flight for mapping in mappings.values()):
        # Left by a run that died with a request out: settled before anything is planned.
        left = [
            (mapping, location) for mapping in mappings.values() for location in mapping.in_flight
        ]
        close_in_flight(left, is_lost=True)
        for mapping in mappings.values():
            mapping.refresh_from_db()
    return mappings


def _plan_items(
    connector: Connector,
    rows: list[ClaimedRow],
    mappings: dict[int, SkuMapping],
    desired: dict[int, list[PushItem]],
    report: PushReport,
) -> dict[int, list[PushItem]]:
    """The items to send per row id; rows with nothing the store lacks are finished here."""
    wanted: dict[int, list[PushItem]] = {}
    nothing_to_send: list[ClaimedRow] = []
    for row in rows:
        mapping = mappings.get(row.variant_id)
        items: list[PushItem] = []
        fresh: list[PushItem] = []
        if mapping is not None:
            planned = desired.get(mapping.pk, [])
            items = [plan_push(connector.kind, mapping, item) for item in planned]
            fresh = [item for item in items if not is_confirmed(mapping, item)]
        report.skipped += len(items) - len(fresh)
        if fresh:
            wanted[row.id] = fresh
        else:
            nothing_to_send.append(row)
    if nothing_to_send:
        report.sent_rows += finish_sent(nothing_to_send, {}, mappings)
    return wanted


def _send(
    store: StoreConnector,
    connector: Connector,
    to_send: list[ClaimedRow],
    wanted: dict[int, list[PushItem]],
    report: PushReport,
) -> _Sent:
    """Send the batch; a refused batch goes again row by row to find the bad item."""
    sent = _Sent()
    try:
        try:
            items = [item for row in to_send for item in wanted[row.id]]
            report.pushed += len(items)
            _collect(sent.results, store.push_stock(items))
            sent.reached_store = True
        except RemoteRejected as exc:
            # Settings naming nowhere to push to refuse every row alike, without a request.
            sent.reached_store = not isinstance(exc, PushNotConfigured)
            if len(to_send) == 1 or not sent.reached_store:
                sent.rejected.update((row.id, str(exc)) for row in to_send)
            else:
                # One bad item can spoil a batch: find it by sending row by row.
                for row in to_send:
                    try:
                        _collect(sent.results, store.push_stock(wanted[row.id]))
                    except RemoteRejected as row_exc:
                        sent.rejected[row.id] = str(row_exc)
    except (RemoteError, requests.RequestException) as exc:
        sent.failure = exc
    except Exception as exc:
        # A defect in a store class must not lose rows: they are released like any failure.
        logger.exception("Store class %s failed while pushing", connector.kind)
        sent.failure = exc
    return sent


def _sort_rows(
    to_send: list[ClaimedRow],
    wanted: dict[int, list[PushItem]],
    sent: _Sent,
    config: PushSettings,
) -> _SortedRows:
    sorted_rows = _SortedRows()
    for row in to_send:
        if row.id in sent.rejected:
            sorted_rows.dead.append((row, sent.rejected[row.id]))
            continue
        answers = [sent.results.get(item) for item in wanted[row.id]]
        if all(answer is not None and answer.is_confirmed for answer in answers):
            sorted_rows.confirmed.append(row)
        elif any(answer is not None for answer in answers):
            error = "; ".join(
                f"{item.sku}@{item.location or '-'}: {answer.error if answer else 'no answer'}"
                for item, answer in zip(wanted[row.id], answers, strict=True)
                if answer is None or not answer.is_confirmed
            )
            if row.attempts >= config.max_item_attempts:
                sorted_rows.dead.append((row, error))
            else:
                sorted_rows.retry.append((row, error))
        else:
            sorted_rows.unanswered.append(row)
    return sorted_rows


def _settle_rows(
    connector: Connector,
    to_send: list[ClaimedRow],
    wanted: dict[int, list[PushItem]],
    mappings: dict[int, SkuMapping],
    sent: _Sent,
    config: PushSettings,
    report: PushReport,
) -> list[ClaimedRow]:
    """Finish, retry or bury each answered row; returns the rows nobody answered for."""
    sorted_rows = _sort_rows(to_send, wanted, sent, config)
    report.confirmed += sum(1 for result in sent.results.values() if result.is_confirmed)
    report.sent_rows += finish_sent(sorted_rows.confirmed, sent.results, mappings, wanted=wanted)
    close_unconfirmed(connector, to_send, wanted, sent.results, sent.failure)
    for row, error in sorted_rows.retry:
        release_rows([row], config, error=error)
    report.retried_rows += len(sorted_rows.retry)
    if sorted_rows.dead:
        # A connector set up with nowhere to push to refuses every change the same way:
        # one open problem says so, not one per change.
        mark_dead(connector, sorted_rows.dead, once=not sent.reached_store)
        report.dead_rows += len(sorted_rows.dead)
    return sorted_rows.unanswered


def _stop_after_failure(
    connector: Connector,
    failure: BaseException,
    message: str,
    unanswered: list[ClaimedRow],
    config: PushSettings,
    report: PushReport,
) -> None:
    """Release the unanswered rows: after Retry-After on a 429, else with backoff."""
    if isinstance(failure, RemoteThrottled):
        pause = failure.retry_after_seconds
        if pause is None:
            pause = config.default_retry_after_seconds
        pause = min(max(pause, 0.0), config.max_retry_after_seconds)
        paused_until = timezone.now() + timedelta(seconds=pause)
        release_rows(unanswered, config, error=message, due_at=paused_until)
        Connector.objects.filter(pk=connector.pk).update(
            paused_until=paused_until, last_error=message[:2000]
        )
        report.status = "throttled"
    else:
        release_rows(unanswered, config, error=message)
        record_failure(connector, failure, config)
        report.status = "failed"


def _collect(results: dict[PushItem, PushResult], answers: Sequence[PushResult]) -> None:
    for answer in answers:
        results[answer.item] = answer


def _log_run(
    connector: Connector,
    started_at: datetime,
    latency_ms: int,
    rows: list[ClaimedRow],
    wanted: dict[int, list[PushItem]],
    sent: _Sent,
    error: str | None,
) -> None:
    items = sum(len(wanted[row.id]) for row in rows)
    confirmed = sum(1 for result in sent.results.values() if result.is_confirmed)
    SyncRun.objects.create(
        connector=connector,
        kind=SyncRunKind.PUSH,
        started_at=started_at,
        finished_at=timezone.now(),
        is_ok=error is None and not sent.rejected and confirmed == items,
        item_count=items,
        changed_count=confirmed,
        failed_count=items - confirmed,
        error=(error or "; ".join(sent.rejected.values()))[:2000],
        latency_ms=latency_ms,
        details={"rows": len(rows)},
    )
