"""Django's Redis cache, failing open: with Redis unreachable the hub answers from PostgreSQL.

Everything the hub caches can be recomputed (storefront answers, KPI counts, cache
generations) and the API throttles count in the cache, so a dead Redis must cost speed
and throttling, never the answer. A read then misses, a write is dropped and a throttle
lets the request through. Each failure is counted and logged at most once per
`LOG_INTERVAL_SECONDS`; `/healthz` reports the count and whether Redis is being skipped.

After a failure the cache skips Redis for `RETRY_SECONDS` instead of paying the connect
timeout on every call of every request: the first call after that tries again.
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from inventory_hub.throttled_log import LOG_INTERVAL_SECONDS

logger = logging.getLogger(__name__)

RETRY_SECONDS = 5.0
UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CacheOutage:
    """What this process saw of the cache: failed-open calls and the last error."""

    failures: int
    is_skipping: bool
    last_error: str
    seconds_since_failure: float | None


class _Outages:
    """Counts per process: each web process serves its own requests and reports its own."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.failures = 0
        self.last_error = ""
        self.last_failure: float | None = None
        self.last_log = float("-inf")

    def record(self, operation: str, exc: BaseException) -> None:
        now = time.monotonic()
        with self.lock:
            self.failures += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            self.last_failure = now
            should_log = now - self.last_log >= LOG_INTERVAL_SECONDS
            if should_log:
                self.last_log = now
            failures = self.failures
        if should_log:
            logger.warning(
                "Cache unreachable (%s failed: %s); answering without it, %d calls so far",
                operation,
                exc,
                failures,
            )

    def is_skipping(self) -> bool:
        last = self.last_failure
        return last is not None and time.monotonic() - last < RETRY_SECONDS

    def snapshot(self) -> CacheOutage:
        with self.lock:
            last = self.last_failure
            return CacheOutage(
                failures=self.failures,
                is_skipping=self.is_skipping(),
                last_error=self.last_error,
                seconds_since_failure=None if last is None else time.monotonic() - last,
            )

    def reset(self) -> None:
        with self.lock:
            self.failures = 0
            self.last_error = ""
            self.last_failure = None
            self.last_log = float("-inf")


outages = _Outages()


def cache_outage() -> CacheOutage:
    return outages.snapshot()


class FailOpenRedisCache(RedisCache):
    """RedisCache whose calls answer "not cached" when Redis cannot be reached."""

    def _guarded(self, operation: str, call: Callable[[], T], fallback: T) -> T:
        if outages.is_skipping():
            outages.record(operation, RedisConnectionError("skipped after a recent failure"))
            return fallback
        try:
            return call()
        except UNREACHABLE as exc:
            outages.record(operation, exc)
            return fallback

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guarded("add", partial(super().add, key, value, timeout, version), False)

    def get(self, key, default=None, version=None):
        return self._guarded("get", partial(super().get, key, default, version), default)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guarded("set", partial(super().set, key, value, timeout, version), None)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guarded("touch", partial(super().touch, key, timeout, version), False)

    def delete(self, key, version=None):
        return self._guarded("delete", partial(super().delete, key, version), False)

    def get_many(self, keys, version=None):
        return self._guarded("get_many", partial(super().get_many, keys, version), {})

    def has_key(self, key, version=None):
        return self._guarded("has_key", partial(super().has_key, key, version), False)

    def incr(self, key, delta=1, version=None):
        # Callers bump counters whose old entries then expire on their own TTL; an unknown
        # counter reads as missing, as after an eviction (ValueError, like a missing key).
        found = self._guarded("incr", partial(super().incr, key, delta, version), None)
        if found is None:
            raise ValueError(f"Key '{key}' not found (the cache is unreachable).")
        return found

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guarded(
            "set_many", partial(super().set_many, data, timeout, version), list(data)
        )

    def delete_many(self, keys, version=None):
        return self._guarded("delete_many", partial(super().delete_many, keys, version), None)

    def clear(self):
        return self._guarded("clear", super().clear, False)

    def ping(self) -> None:
        """Ask Redis itself, skipping nothing; raises when it cannot be reached (/healthz)."""
        try:
            # RedisCache._cache (a private cached_property) is missing from django-stubs.
            self._cache.get_client().ping()  # type: ignore[attr-defined]
        except UNREACHABLE as exc:
            # Counted like any other call, so that the worker check skips Redis too.
            outages.record("ping", exc)
            raise
