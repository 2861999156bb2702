"""One run at a time per connector and job: the lock the push and the sync jobs share.

PostgreSQL: a session advisory lock on (namespace, connector id), released by the server
if the worker dies. SQLite (`make run`, one process): a lock in this process.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

from inventory_hub.db import is_postgresql

_local_locks: dict[tuple[int, int], threading.Lock] = {}
_local_locks_guard = threading.Lock()


@contextmanager
def try_connector_lock(namespace: int, connector_id: int) -> Iterator[bool]:
    """Hold the lock of (`namespace`, connector); never waits: yields False when it is taken."""
    key = [namespace, connector_id]
    if is_postgresql():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", key)
            acquired = bool(cursor.fetchone()[0])
        try:
            yield acquired
        finally:
            if acquired:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s, %s)", key)
        return
    with _local_locks_guard:
        lock = _local_locks.setdefault((namespace, connector_id), threading.Lock())
    acquired = lock.acquire(blocking=False)
    try:
        yield acquired
    finally:
        if acquired:
            lock.release()
