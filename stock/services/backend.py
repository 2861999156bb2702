"""Which database the hot writes are written for, decided once per process.

PostgreSQL gets set-based statements, prepared on one kept cursor, that lock and write in
as few round trips as possible; any other database (SQLite, for local runs and quick
tests) gets the ORM, which gives the same answers without row locks because SQLite
serialises writers. The services ask `write_backend()` instead of each testing the vendor.
Each implementation stays beside the code it serves; this module only picks, on first use
(importing them lazily, as they import this module).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections

from inventory_hub.db import is_postgresql


@dataclass(frozen=True, slots=True)
class WriteBackend:
    vendor: str
    # Ledger: level locks, missing levels, replays, ledger rows and balances.
    lock_levels: Callable[..., Any]
    ensure_levels: Callable[..., Any]
    existing_references: Callable[..., Any]
    write_rows: Callable[..., Any]
    # Orders: the locked path's read-and-lock and inserts, the planned path (None when
    # there is none), and hold expiry.
    lock_for_order: Callable[..., Any]
    insert_order: Callable[..., Any]
    place_planned: Callable[..., Any]
    release_expired: Callable[..., Any]
    # Bulk stock and history.
    variants_by_sku: Callable[..., Any]
    upsert_snapshots: Callable[..., Any]


_chosen: WriteBackend | None = None


def write_backend() -> WriteBackend:
    """The backend for the default database's vendor."""
    return _chosen or _choose()


def forget_write_backend() -> None:
    """Choose again on next use (a bench that wraps the backends' functions to time them)."""
    global _chosen
    _chosen = None


def _choose() -> WriteBackend:
    global _chosen
    from . import bulk, history
    from .ledger import locks, writes
    from .orders import expiry, locked_sql, planned

    vendor = connections[DEFAULT_DB_ALIAS].vendor
    if is_postgresql():
        _chosen = WriteBackend(
            vendor=vendor,
            lock_levels=locks.lock_levels_postgres,
            ensure_levels=locks.ensure_levels_postgres,
            existing_references=writes.existing_references_postgres,
            write_rows=writes.write_rows_postgres,
            lock_for_order=locked_sql.lock_for_order_postgres,
            insert_order=locked_sql.insert_order_postgres,
            place_planned=planned.place_planned,
            release_expired=expiry.release_expired_set_based,
            variants_by_sku=bulk.variants_by_sku_postgres,
            upsert_snapshots=history.upsert_postgres,
        )
    else:
        _chosen = WriteBackend(
            vendor=vendor,
            lock_levels=locks.read_levels_portable,
            ensure_levels=locks.ensure_levels_portable,
            existing_references=writes.existing_references_portable,
            write_rows=writes.write_rows_portable,
            lock_for_order=locked_sql.lock_for_order_portable,
            insert_order=locked_sql.insert_order_portable,
            place_planned=_no_planned_path,
            release_expired=expiry.release_expired_portable,
            variants_by_sku=bulk.variants_by_sku_portable,
            upsert_snapshots=history.upsert_portable,
        )
    return _chosen


def _no_planned_path(request) -> None:
    """Without row locks to re-check a plan under, every order takes the locked path."""
    return None
