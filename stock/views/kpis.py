"""The overview's KPI cards, counted once and shared through the cache.

Counting a warehouse reads every level it holds (50,000 levels: 40-70 ms; all 500,000:
200-370 ms), so a card is counted once and kept in the cache for every page load and every
overview socket. A kept count is shown only while it is known to be current:

- Overview sockets watch: while one is open, it keeps a lease on the warehouses it shows
  (renewed every few seconds) and, on every stock.changed it receives, notes when each
  warehouse last changed. Services publish after commit, so a count begun after that note
  includes the change.
- A count is used when a watch has lasted since before it was counted and no change has
  been noted since. Otherwise (nobody watching, or a change since) the page counts again,
  and keeps the new count for the next one. A count older than MAX_AGE_SECONDS is
  never used, in case a change was published while no socket could hear it.

Changes that move no stock (a variant's low-stock threshold, its backorder policy) are not
published as stock changes: a card shows them at the next stock change of that warehouse,
or at most MAX_AGE_SECONDS later.
"""

import time
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.cache import cache

from stock.selectors import WarehouseKpis, warehouse_kpis

# The clock every process compares: wall time, shared by the processes of a machine (and,
# within CLOCK_MARGIN_SECONDS, by machines that keep time).
clock = time.time
# Any warehouse: the lease of an overview socket that shows them all.
EVERY_WAREHOUSE = "all"
WATCH_SECONDS = 15.0
# A socket renews its lease this often: a lost renewal or two does not end the watch.
RENEW_SECONDS = 4.0
MAX_AGE_SECONDS = 300.0
# Processes on different machines read different clocks: a change noted this close to a
# count is taken as later than it.
CLOCK_MARGIN_SECONDS = 0.1


@dataclass(frozen=True, slots=True)
class KeptCount:
    kpis: WarehouseKpis
    counted_at: float  # clock() when the count began


def _count_key(warehouse_id: int) -> str:
    return f"dashboard:kpis:count:{warehouse_id}"


def _changed_key(warehouse_id: int) -> str:
    return f"dashboard:kpis:changed:{warehouse_id}"


def _watch_key(scope: int | str) -> str:
    return f"dashboard:kpis:watch:{scope}"


def watch(warehouse_id: int | None) -> None:
    """Start or renew an overview socket's watch (None: every warehouse).

    The lease holds when the watch began; renewing it keeps that moment, so a count made
    before a lapse is never taken for current.
    """
    key = _watch_key(EVERY_WAREHOUSE if warehouse_id is None else warehouse_id)
    began = cache.get(key)
    cache.set(key, began if began is not None else clock(), WATCH_SECONDS)


def note_changed(warehouse_ids: Iterable[int]) -> None:
    """A socket heard that these warehouses' stock changed (after the commit)."""
    now = clock()
    cache.set_many({_changed_key(pk): now for pk in warehouse_ids}, MAX_AGE_SECONDS)


def count_kpis(warehouse_ids: list[int]) -> list[WarehouseKpis]:
    """Count these warehouses now and keep the counts (by warehouse code)."""
    if not warehouse_ids:
        return []
    began = clock()
    counted = warehouse_kpis(warehouse_ids=warehouse_ids)
    cache.set_many(
        {_count_key(kpi.warehouse_id): KeptCount(kpi, began) for kpi in counted},
        MAX_AGE_SECONDS,
    )
    return counted


def current_kpis(warehouse_ids: list[int]) -> list[WarehouseKpis]:
    """Every warehouse's card (by code), counting only those whose kept count may be stale."""
    keys = [_count_key(pk) for pk in warehouse_ids]
    keys += [_changed_key(pk) for pk in warehouse_ids]
    keys += [_watch_key(pk) for pk in warehouse_ids] + [_watch_key(EVERY_WAREHOUSE)]
    found = cache.get_many(keys)
    now = clock()
    kept, stale = [], []
    for pk in warehouse_ids:
        count = found.get(_count_key(pk))
        watches = [found.get(_watch_key(pk)), found.get(_watch_key(EVERY_WAREHOUSE))]
        watched_since = min((began for began in watches if began is not None), default=None)
        changed_at = found.get(_changed_key(pk))
        if (
            count is not None
            and now - count.counted_at <= MAX_AGE_SECONDS
            and watched_since is not None
            and watched_since + CLOCK_MARGIN_SECONDS <= count.counted_at
            and (changed_at is None or changed_at + CLOCK_MARGIN_SECONDS < count.counted_at)
        ):
            kept.append(count.kpis)
        else:
            stale.append(pk)
    return sorted(kept + count_kpis(stale), key=lambda kpi: kpi.code)


def kpis_counted_since(warehouse_ids: list[int], since: float) -> list[WarehouseKpis]:
    """Cards counted after `since` (a change a socket heard of): another socket's count when
    it is recent enough, a new count otherwise. Many open overviews then count a busy
    warehouse once, not once each."""
    found = cache.get_many([_count_key(pk) for pk in warehouse_ids])
    kept, stale = [], []
    for pk in warehouse_ids:
        count = found.get(_count_key(pk))
        if count is not None and count.counted_at > since + CLOCK_MARGIN_SECONDS:
            kept.append(count.kpis)
        else:
            stale.append(pk)
    return sorted(kept + count_kpis(stale), key=lambda kpi: kpi.code)
