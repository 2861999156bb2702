"""What the hub remembers of each push on the SKU mapping: what went out, what the store
confirmed, relative changes left in flight, and outbox rows marked sent.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from connectors.base import PushItem, PushResult, RemoteAuthFailed, RemoteRejected, RemoteThrottled
from connectors.engine.accounting import confirm_push, note_in_flight, settle_in_flight
from connectors.engine.push.claims import ClaimedRow
from connectors.models import Connector, OutboxItem, OutboxState, SkuMapping
from connectors.selectors import status_record

logger = logging.getLogger(__name__)


def remember_pushed(connector: Connector, items: list[PushItem]) -> None:
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


def close_unconfirmed(
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


def close_in_flight(pairs: list[tuple[SkuMapping, str]], *, is_lost: bool) -> None:
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


def finish_sent(
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
