"""One run at a time per connector for each sync job (poll, reconcile, setup, watchdog).

PostgreSQL: a session advisory lock, released by the server if the worker dies. SQLite
(`make run`, one process): a lock in this process.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

_local_locks: dict[tuple[int, int], threading.Lock] = {}
_guard = threading.Lock()


def _namespace(job: str) -> int:
    # A stable 31-bit number per job name, apart from the push lock's ("push" in ASCII).
    return zlib.crc32(f"connectors-sync:{job}".encode()) & 0x7FFFFFFF


@contextmanager
def connector_job_lock(job: str, connector_id: int) -> Iterator[bool]:
    """Hold the lock of (`job`, connector); never waits: yields False when it is taken."""
    key = (_namespace(job), connector_id)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", list(key))
            acquired = bool(cursor.fetchone()[0])
        try:
            yield acquired
        finally:
            if acquired:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s, %s)", list(key))
        return
    with _guard:
        lock = _local_locks.setdefault(key, threading.Lock())
    acquired = lock.acquire(blocking=False)
    try:
        yield acquired
    finally:
        if acquired:
            lock.release()
