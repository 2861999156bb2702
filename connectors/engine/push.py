"""Pushing the outbox to one store: claim, compute, send, confirm.

Guarantees:
- One push run per connector at a time (a PostgreSQL advisory lock held by the run's
  session, released by the server if the worker dies), so the per-connector rate limit
  holds and rows are sent in order.
- Rows are claimed with `FOR UPDATE SKIP LOCKED` and a lease (`claimed_until`). A worker
  that dies mid-push leaves its rows pending; once the lease has passed they are claimed
  again. Values are computed at send time, so the second push sends the latest value; a
  relative change left `in_flight` by a dead worker is settled before anything is sent.
- A row becomes `sent` only if no change arrived while it was being pushed (its
  `change_count` is unchanged); otherwise it stays pending and goes again.
- Only values that differ from what the store last confirmed are sent. Where the hub keeps
  accounts of the store's figure (connectors/engine/accounting.py), a WooCommerce item that
  manages stock gets a relative change (`inventory_delta`) and a Magento source item a
  figure that never undoes a decrement the store made on its own; a relative change whose
  answer is lost is counted the way that leaves the store offering less, never twice.
- Failures back off exponentially per row; a 429 pauses the connector until Retry-After;
  after `failures_to_open` consecutive failures the circuit opens, a single trial row is
  tried after a cool-down that doubles with each failed trial (half-open), and the first
  success closes it and makes the backed-off rows due at once.
- Every round that talks to the store writes a `SyncRun`; failures become `SyncProblem`s
  (one open problem per kind and connector).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from connectors.base import (
    Connector as StoreConnector,
)
from connectors.base import (
    PushItem,
    PushNotConfigured,
    PushResult,
    RemoteAuthFailed,
    RemoteError,
    RemoteRejected,
    RemoteThrottled,
)
from connectors.engine.accounting import (
    confirm_push,
    note_in_flight,
    plan_push,
    settle_in_flight,
)
from connectors.engine.http import RateLimitedSession
from connectors.engine.locks import try_connector_lock
from connectors.engine.problems import record_problem, resolve_problems
from connectors.models import (
    CircuitState,
    Connector,
    OutboxItem,
    OutboxState,
    SkuMapping,
    SyncProblemKind,
    SyncRun,
    SyncRunKind,
)
from connectors.registry import build_connector
from connectors.selectors import MissingChannel, desired_push_items, is_confirmed, status_record

logger = logging.getLogger(__name__)

# Advisory lock namespace ("push" in ASCII), paired with the connector id.
PUSH_LOCK_NAMESPACE = 0x70757368


@dataclass(frozen=True, slots=True)
class PushSettings:
    batch_size: int = 100
    failures_to_open: int = 5
    breaker_cooldown_seconds: float = 5.0
    breaker_max_cooldown_seconds: float = 300.0
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 300.0
    max_item_attempts: int = 10
    default_retry_after_seconds: float = 30.0
    max_retry_after_seconds: float = 3600.0
    lease_seconds: float | None = None  # None: from the connector's timeout
    time_budget_seconds: float = 50.0


def push_settings() -> PushSettings:
    """`settings.CONNECTORS_PUSH` (a dict) overrides the defaults field by field."""
    overrides = getattr(settings, "CONNECTORS_PUSH", {}) or {}
    known = {item.name for item in fields(PushSettings)}
    return replace(PushSettings(), **{k: v for k, v in overrides.items() if k in known})


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


@dataclass(frozen=True, slots=True)
class ClaimedRow:
    id: int
    variant_id: int
    change_count: int
    attempts: int  # including this claim


# --- Entry point ----------------------------------------------------------------------------


def push_outbox(*, connector_id: int) -> PushReport:
    """Push every due outbox row of one connector, round after round, within a time budget.

    Returns at once (status "busy") when another run holds this connector.
    """
    with connector_push_lock(connector_id) as acquired:
        if not acquired:
            return PushReport(connector_id=connector_id, status="busy")
        return _push_locked(connector_id, push_settings())


def has_due_rows(connector_id: int) -> bool:
    now = timezone.now()
    return (
        OutboxItem.objects.filter(
            connector_id=connector_id, state=OutboxState.PENDING, due_at__lte=now
        )
        .exclude(claimed_until__gt=now)
        .exists()
    )


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


def lease_seconds(connector: Connector, config: PushSettings) -> float:
    """Long enough for the slowest round: several requests, each up to the timeout."""
    if config.lease_seconds is not None:
        return config.lease_seconds
    return 60.0 + connector.timeout_seconds * 10


def breaker_cooldown(connector: Connector, config: PushSettings) -> float:
    failed_trials = max(connector.consecutive_failures - config.failures_to_open, 0)
    cooldown = config.breaker_cooldown_seconds * (2 ** min(failed_trials, 16))
    return min(cooldown, config.breaker_max_cooldown_seconds)


def breaker_retry_at(connector: Connector, config: PushSettings) -> datetime:
    opened_at = connector.circuit_opened_at or timezone.now()
    return opened_at + timedelta(seconds=breaker_cooldown(connector, config))


def row_backoff(attempts: int, config: PushSettings) -> float:
    delay = config.backoff_seconds * (2 ** max(min(attempts - 1, 20), 0))
    # A little jitter, so rows failed together do not come back in one burst.
    return min(delay, config.max_backoff_seconds) * random.uniform(0.9, 1.1)


# --- Claim ----------------------------------------------------------------------------------


def claim_rows(connector: Connector, *, limit: int, lease_seconds: float) -> list[ClaimedRow]:
    """Lease up to `limit` due rows (FOR UPDATE SKIP LOCKED): nobody else claims them until
    the lease passes, and a stock change being enqueued for one of them is not waited for."""
    now = timezone.now()
    with transaction.atomic():
        rows = list(
            OutboxItem.objects.select_for_update(skip_locked=True)
            .filter(connector=connector, state=OutboxState.PENDING, due_at__lte=now)
            .exclude(claimed_until__gt=now)
            .order_by("due_at", "id")
            .values_list("id", "variant_id", "change_count", "attempts")[:limit]
        )
        if not rows:
            return []
        OutboxItem.objects.filter(pk__in=[row[0] for row in rows]).update(
            claimed_until=now + timedelta(seconds=lease_seconds), attempts=F("attempts") + 1
        )
    return [ClaimedRow(row[0], row[1], row[2], row[3] + 1) for row in rows]


# --- One round --------------------------------------------------------------------------------


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
        _release(rows, config, error=str(exc))
        record_problem(connector_id=connector.pk, kind=SyncProblemKind.OTHER, message=str(exc))
        report.status = "failed"
        report.errors.append(str(exc))
        return False
    wanted = _plan_items(connector, rows, mappings, desired, report)
    to_send = [row for row in rows if row.id in wanted]
    if not to_send:
        return True

    _remember_pushed(connector, [item for row in to_send for item in wanted[row.id]])
    store = store_for(connector)
    started_at = timezone.now()
    clock = time.monotonic()
    sent = _send(store, connector, to_send, wanted, report)
    latency_ms = int((time.monotonic() - clock) * 1000)
    unanswered = _settle_rows(connector, to_send, wanted, mappings, sent, config, report)
    if sent.failure is None:
        if sent.reached_store:
            _record_success(connector)
        _log_run(connector, started_at, latency_ms, to_send, wanted, sent, None)
        return True

    message = _describe(sent.failure)
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
        _close_in_flight(left, is_lost=True)
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
        items = (
            [plan_push(connector.kind, mapping, item) for item in desired.get(mapping.pk, [])]
            if mapping is not None
            else []
        )
        fresh = [item for item in items if not is_confirmed(mapping, item)]
        report.skipped += len(items) - len(fresh)
        if fresh:
            wanted[row.id] = fresh
        else:
            nothing_to_send.append(row)
    if nothing_to_send:
        report.sent_rows += _finish_sent(nothing_to_send, {}, mappings)
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
    report.sent_rows += _finish_sent(sorted_rows.confirmed, sent.results, mappings, wanted=wanted)
    _close_unconfirmed(connector, to_send, wanted, sent.results, sent.failure)
    for row, error in sorted_rows.retry:
        _release([row], config, error=error)
    report.retried_rows += len(sorted_rows.retry)
    if sorted_rows.dead:
        # A connector set up with nowhere to push to refuses every change the same way:
        # one open problem says so, not one per change.
        _mark_dead(connector, sorted_rows.dead, once=not sent.reached_store)
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
        _release(unanswered, config, error=message, due_at=paused_until)
        Connector.objects.filter(pk=connector.pk).update(
            paused_until=paused_until, last_error=message[:2000]
        )
        report.status = "throttled"
    else:
        _release(unanswered, config, error=message)
        _record_failure(connector, failure, config)
        report.status = "failed"


def _collect(results: dict[PushItem, PushResult], answers: Sequence[PushResult]) -> None:
    for answer in answers:
        results[answer.item] = answer


def _describe(failure: BaseException) -> str:
    name = type(failure).__name__
    status = getattr(failure, "status", None)
    return f"{name}{f' ({status})' if status else ''}: {failure}"[:2000]


# --- Writing the outcome ----------------------------------------------------------------------


def _remember_pushed(connector: Connector, items: list[PushItem]) -> None:
    """Record what is about to be pushed before the request, so the store's echo of it
    (which may arrive before the answer) is recognised as the hub's own write, and a
    relative change is known to be out should its answer never come."""
    by_remote: dict[str, list[PushItem]] = {}
    for item in items:
        by_remote.setdefault(item.remote_id, []).append(item)
    with transaction.atomic():
        for mapping in (
            SkuMapping.objects.select_for_update(no_key=True)
            .filter(connector=connector, remote_id__in=list(by_remote))
            .order_by("pk")
        ):
            for item in by_remote[mapping.remote_id]:
                mapping.last_pushed = {**mapping.last_pushed, item.location: item.quantity}
                note_in_flight(mapping, item)
            mapping.save(update_fields=["last_pushed", "in_flight", "updated_at"])


def _close_unconfirmed(
    connector: Connector,
    rows: list[ClaimedRow],
    wanted: dict[int, list[PushItem]],
    results: dict[PushItem, PushResult],
    failure: BaseException | None,
) -> None:
    """Settle the relative changes the store did not confirm. Without an answer (a timeout,
    a 5xx, no result for the item) the store may have applied one; a refusal, a 429 or an
    item answered with an error certainly was not."""
    may_be_applied = failure is not None and not isinstance(
        failure, RemoteThrottled | RemoteAuthFailed | RemoteRejected
    )
    lost: list[PushItem] = []
    refused: list[PushItem] = []
    for row in rows:
        for item in wanted[row.id]:
            if item.delta is None:
                continue
            answer = results.get(item)
            if answer is None:
                (lost if may_be_applied else refused).append(item)
            elif not answer.is_confirmed:
                refused.append(item)
    if not (lost or refused):
        return
    by_remote = {item.remote_id: item for item in lost + refused}
    with transaction.atomic():
        for mapping in (
            SkuMapping.objects.select_for_update(no_key=True)
            .filter(connector=connector, remote_id__in=list(by_remote))
            .order_by("pk")
        ):
            item = by_remote[mapping.remote_id]
            settle_in_flight(mapping, item.location, is_lost=item in lost)
            mapping.save(update_fields=["accounted", "last_confirmed", "in_flight", "updated_at"])


def _close_in_flight(pairs: list[tuple[SkuMapping, str]], *, is_lost: bool) -> None:
    by_pk: dict[int, list[str]] = {}
    for mapping, location in pairs:
        by_pk.setdefault(mapping.pk, []).append(location)
    with transaction.atomic():
        for mapping in (
            SkuMapping.objects.select_for_update(no_key=True)
            .filter(pk__in=list(by_pk))
            .order_by("pk")
        ):
            for location in by_pk[mapping.pk]:
                settle_in_flight(mapping, location, is_lost=is_lost)
            mapping.save(update_fields=["accounted", "last_confirmed", "in_flight", "updated_at"])


def _finish_sent(
    rows: list[ClaimedRow],
    results: dict[PushItem, PushResult],
    mappings: dict[int, SkuMapping],
    *,
    wanted: dict[int, list[PushItem]] | None = None,
) -> int:
    """Store what the store confirmed and mark rows sent, unless a change came meanwhile."""
    if not rows:
        return 0
    now = timezone.now()
    finished = 0
    with transaction.atomic():
        if wanted:
            _store_confirmed(rows, results, mappings, wanted, now)
        for row in rows:
            values = (
                {
                    item.location: _value_record(results[item])
                    for item in (wanted or {}).get(row.id, [])
                }
                if wanted
                else {}
            )
            done = OutboxItem.objects.filter(
                pk=row.id, state=OutboxState.PENDING, change_count=row.change_count
            ).update(
                state=OutboxState.SENT,
                sent_at=now,
                sent_values=values,
                claimed_until=None,
                last_error="",
                updated_at=now,
            )
            if done:
                finished += 1
            else:
                # A change arrived while this row was out: it goes again, now.
                OutboxItem.objects.filter(pk=row.id, state=OutboxState.PENDING).update(
                    claimed_until=None, due_at=now
                )
    return finished


def _value_record(result: PushResult) -> dict:
    item = result.item
    record = {
        "quantity": item.quantity,
        "confirmed_quantity": result.confirmed_quantity,
        **status_record(item),
    }
    if item.delta is not None:
        record["delta"] = item.delta
    return record


def _store_confirmed(
    rows: list[ClaimedRow],
    results: dict[PushItem, PushResult],
    mappings: dict[int, SkuMapping],
    wanted: dict[int, list[PushItem]],
    now: datetime,
) -> None:
    mapping_ids = sorted(mappings[row.variant_id].pk for row in rows if row.variant_id in mappings)
    locked = {
        mapping.pk: mapping
        for mapping in SkuMapping.objects.select_for_update(no_key=True)
        .filter(pk__in=mapping_ids)
        .order_by("pk")
    }
    for row in rows:
        mapping = locked.get(mappings[row.variant_id].pk)
        if mapping is None:
            continue
        for item in wanted[row.id]:
            result = results[item]
            quantity = (
                result.confirmed_quantity
                if result.confirmed_quantity is not None
                else item.quantity
            )
            if item.is_managed:
                confirm_push(mapping, item, quantity)
            mapping.last_confirmed_status = {
                **mapping.last_confirmed_status,
                item.location: status_record(item),
            }
        mapping.last_confirmed_at = now
        mapping.save(
            update_fields=[
                "last_confirmed",
                "accounted",
                "in_flight",
                "last_confirmed_status",
                "last_confirmed_at",
                "updated_at",
            ]
        )


def _release(
    rows: Sequence[ClaimedRow],
    config: PushSettings,
    *,
    error: str,
    due_at: datetime | None = None,
) -> None:
    now = timezone.now()
    for row in rows:
        due = due_at or now + timedelta(seconds=row_backoff(row.attempts, config))
        OutboxItem.objects.filter(pk=row.id, state=OutboxState.PENDING).update(
            claimed_until=None, due_at=due, last_error=error[:2000], updated_at=now
        )


def _mark_dead(
    connector: Connector, rows: list[tuple[ClaimedRow, str]], *, once: bool = False
) -> None:
    now = timezone.now()
    with transaction.atomic():
        for row, error in rows:
            OutboxItem.objects.filter(pk=row.id, state=OutboxState.PENDING).update(
                state=OutboxState.DEAD, claimed_until=None, last_error=error[:2000], updated_at=now
            )
            record_problem(
                connector_id=connector.pk,
                kind=SyncProblemKind.PUSH_REJECTED,
                message=f"The store refused the push of variant {row.variant_id}: {error}",
                details={"outbox_item": row.id, "variant_id": row.variant_id},
                # Not sent at all: one settings problem, not one per variant.
                subject="" if once else f"variant {row.variant_id}",
            )


def _record_success(connector: Connector) -> None:
    now = timezone.now()
    was_closed = connector.circuit_state == CircuitState.CLOSED
    Connector.objects.filter(pk=connector.pk).update(
        consecutive_failures=0,
        last_push_at=now,
        last_error="",
        circuit_state=CircuitState.CLOSED,
        circuit_opened_at=None,
        paused_until=None,
    )
    kinds = [SyncProblemKind.PUSH_FAILED, SyncProblemKind.AUTH_FAILED]
    if not was_closed:
        kinds.append(SyncProblemKind.CIRCUIT_OPEN)
        # The store is back: rows that backed off while it was down go now.
        OutboxItem.objects.filter(
            connector=connector, state=OutboxState.PENDING, due_at__gt=now, attempts__gt=0
        ).update(due_at=now)
        logger.info("Circuit closed for connector %s", connector.pk)
    resolve_problems(connector_id=connector.pk, kinds=kinds)
    connector.circuit_state = CircuitState.CLOSED
    connector.consecutive_failures = 0


def _record_failure(connector: Connector, failure: BaseException, config: PushSettings) -> None:
    message = _describe(failure)
    now = timezone.now()
    with transaction.atomic():
        locked = Connector.objects.select_for_update(no_key=True).get(pk=connector.pk)
        locked.consecutive_failures += 1
        locked.last_error = message
        update = ["consecutive_failures", "last_error"]
        opens = locked.circuit_state == CircuitState.HALF_OPEN or (
            locked.circuit_state == CircuitState.CLOSED
            and locked.consecutive_failures >= config.failures_to_open
        )
        if opens:
            locked.circuit_state = CircuitState.OPEN
            locked.circuit_opened_at = now
            update += ["circuit_state", "circuit_opened_at"]
        Connector.objects.filter(pk=locked.pk).update(
            **{name: getattr(locked, name) for name in update}
        )
        kind = (
            SyncProblemKind.AUTH_FAILED
            if isinstance(failure, RemoteAuthFailed)
            else SyncProblemKind.PUSH_FAILED
        )
        record_problem(connector_id=locked.pk, kind=kind, message=message)
        if opens:
            cooldown = breaker_cooldown(locked, config)
            record_problem(
                connector_id=locked.pk,
                kind=SyncProblemKind.CIRCUIT_OPEN,
                message=f"Stopped pushing to {locked.name} after "
                f"{locked.consecutive_failures} failures in a row; next try in "
                f"{cooldown:.0f} s. Last error: {message}",
            )
    connector.circuit_state = locked.circuit_state
    connector.consecutive_failures = locked.consecutive_failures
    logger.warning("Push to connector %s failed: %s", connector.pk, message)


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
