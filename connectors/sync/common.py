"""Small pieces the sync jobs share: a store object for a run, mapping look-ups, the SKUs
a connector should map, and writing a run's outcome."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

import requests
from django.db.models import Q
from django.utils import timezone

from connectors.base import Connector as StoreConnector
from connectors.base import RemoteError, RemoteStock
from connectors.engine.http import RateLimitedSession
from connectors.models import Connector, LocationMapping, SkuMapping, SyncRun
from connectors.registry import build_connector
from stock.models import StockLevel, Variant

T = TypeVar("T")

# Lists kept in a run's details or a report (the counts beside them are always exact).
LIST_LIMIT = 1000
# Failures a sync job turns into a failed run rather than a crash.
STORE_FAILURES = (RemoteError, requests.RequestException, ValueError)


def open_store(connector: Connector) -> StoreConnector:
    """The store object for one job, on its own session: the connector's rate limit and
    timeout apply to every request the job makes (reads may be many pages)."""
    session = RateLimitedSession(
        requests_per_second=connector.push_rate_per_second,
        timeout_seconds=connector.timeout_seconds,
    )
    return build_connector(connector, session=session)


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def describe(failure: BaseException) -> str:
    status = getattr(failure, "status", None)
    return f"{type(failure).__name__}{f' ({status})' if status else ''}: {failure}"[:2000]


class MappingIndex:
    """A connector's SKU mappings found by remote id first, then by SKU, as inbound does."""

    def __init__(self, mappings: Iterable[SkuMapping]) -> None:
        self.by_remote: dict[str, SkuMapping] = {}
        self.by_sku: dict[str, SkuMapping] = {}
        for mapping in mappings:
            self.by_remote[mapping.remote_id] = mapping
            self.by_sku[mapping.variant.sku] = mapping

    @classmethod
    def for_items(cls, connector: Connector, items: Sequence[RemoteStock]) -> MappingIndex:
        remote_ids = [item.remote_id for item in items if item.remote_id]
        skus = [item.sku for item in items if item.sku]
        return cls(
            SkuMapping.objects.filter(connector=connector)
            .filter(Q(remote_id__in=remote_ids) | Q(variant__sku__in=skus))
            .select_related("variant")
        )

    def find(self, item: RemoteStock) -> SkuMapping | None:
        found = self.by_remote.get(item.remote_id) if item.remote_id else None
        return found or (self.by_sku.get(item.sku) if item.sku else None)


def connector_warehouse_ids(connector: Connector) -> set[int]:
    """Warehouses whose stock this connector shows: its channel's links and its mapped
    locations."""
    ids = set(
        LocationMapping.objects.filter(connector=connector).values_list("warehouse_id", flat=True)
    )
    if connector.channel is not None:
        ids |= set(connector.channel.links.values_list("warehouse_id", flat=True))
    return ids


def unmapped_hub_variants(connector: Connector) -> tuple[int, list[dict]]:
    """SKUs the hub holds for this connector (a level at one of its warehouses, or any
    active SKU when it names no warehouse) that no mapping of it covers: (count, first ones).
    """
    variants = Variant.objects.filter(is_active=True).exclude(sku_mappings__connector=connector)
    warehouse_ids = connector_warehouse_ids(connector)
    if warehouse_ids:
        stocked = StockLevel.objects.filter(warehouse_id__in=warehouse_ids).values("variant_id")
        variants = variants.filter(pk__in=stocked)
    count = variants.count()
    first = [
        {"side": "hub", "sku": sku, "reason": "no_mapping"}
        for sku in variants.order_by("sku").values_list("sku", flat=True)[:LIST_LIMIT]
    ]
    return count, first


@dataclass(slots=True)
class RunClock:
    """When a run started, for its SyncRun row and its latency."""

    started_at: datetime = field(default_factory=timezone.now)
    started: float = field(default_factory=time.monotonic)

    def elapsed_ms(self) -> int:
        return int((time.monotonic() - self.started) * 1000)


def finish_run(run: SyncRun, clock: RunClock, *, error: str = "", **fields) -> SyncRun:
    run.finished_at = timezone.now()
    run.latency_ms = clock.elapsed_ms()
    run.is_ok = not error
    run.error = error[:2000]
    for name, value in fields.items():
        setattr(run, name, value)
    run.save()
    return run
