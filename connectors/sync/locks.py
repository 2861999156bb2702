"""One run at a time per connector for each sync job (poll, reconcile, setup, watchdog).

The lock itself is `connectors.engine.locks.try_connector_lock`, the push's too.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager

from connectors.engine.locks import try_connector_lock


def _namespace(job: str) -> int:
    # A stable 31-bit number per job name, apart from the push lock's ("push" in ASCII).
    return zlib.crc32(f"connectors-sync:{job}".encode()) & 0x7FFFFFFF


@contextmanager
def connector_job_lock(job: str, connector_id: int) -> Iterator[bool]:
    """Hold the lock of (`job`, connector); never waits: yields False when it is taken."""
    with try_connector_lock(_namespace(job), connector_id) as acquired:
        yield acquired
