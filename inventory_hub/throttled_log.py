"""Logging a failure that repeats, without flooding the log while a dependency is down.

The first failure of a kind is logged with its traceback. Further failures of that kind
are counted, and at most one line per `interval_seconds` says how many were skipped since
the last line, so an outage is never silent and costs one line a minute, not one a call.
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

LOG_INTERVAL_SECONDS = 60.0


@dataclass(slots=True)
class _Kind:
    last_log: float
    skipped: int = 0


class ThrottledLog:
    """Thread-safe; one per logger. Counts are per process, like the cache's outages."""

    def __init__(
        self,
        logger: logging.Logger,
        interval_seconds: float = LOG_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.interval_seconds = interval_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._kinds: dict[str, _Kind] = {}

    def exception(self, message: str, *args: object) -> None:
        """Call from an `except` block; the format string `message` names the kind."""
        now = self.clock()
        with self._lock:
            kind = self._kinds.get(message)
            if kind is not None and now - kind.last_log < self.interval_seconds:
                kind.skipped += 1
                return
            skipped = 0 if kind is None else kind.skipped
            self._kinds[message] = _Kind(last_log=now)
        if kind is None or skipped == 0:
            # A first failure, or the first after a quiet interval: the full traceback.
            self.logger.exception(message, *args)
        else:
            self.logger.warning(
                message + " (again; %d more failures like it skipped since the last log line)",
                *args,
                skipped,
            )

    def reset(self) -> None:
        with self._lock:
            self._kinds.clear()
