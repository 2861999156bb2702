"""HTTP shared by the store classes.

`RateLimitedSession` is the session the engine hands to store classes: a per-connector rate
limit and a default timeout on every request, whatever the store class remembers to pass.
The limit is a token bucket in this process. Pushes for one connector run one at a time
(see `connectors.engine.push`), so within the push path it is the store's whole budget.

The functions below read what every store's HTTP says the same way: header lookup,
Retry-After, and the statuses whose meaning does not depend on the store.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import requests

from connectors.base import RemoteAuthFailed, RemoteThrottled, RemoteUnavailable


class RateLimitedSession(requests.Session):
    def __init__(
        self,
        *,
        requests_per_second: float,
        timeout_seconds: float,
        burst: int = 1,
        sleep=time.sleep,
        clock=time.monotonic,
    ) -> None:
        super().__init__()
        self.interval = 1.0 / requests_per_second if requests_per_second > 0 else 0.0
        self.timeout_seconds = timeout_seconds
        self.burst = max(burst, 1)
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens = float(self.burst)
        self._updated = clock()
        self.request_count = 0

    def _wait_for_token(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) / self.interval)
            self._updated = now
            wait = 0.0 if self._tokens >= 1 else (1 - self._tokens) * self.interval
            self._tokens -= 1
        if wait > 0:
            self._sleep(wait)

    def request(self, method, url, *args, **kwargs):
        self._wait_for_token()
        kwargs.setdefault("timeout", self.timeout_seconds)
        self.request_count += 1
        return super().request(method, url, *args, **kwargs)


def header(headers: Mapping[str, str], name: str) -> str:
    """A header's value whatever the case of the mapping's keys ("" when absent)."""
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), "")
    return str(value).strip()


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date (None if unreadable)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return None if math.isnan(seconds) else max(seconds, 0.0)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max((moment - datetime.now(UTC)).total_seconds(), 0.0)


def raise_for_store_independent_status(
    response: requests.Response, message: str, *, code: str = ""
) -> None:
    """Raise what 429, 5xx, 401 and 403 mean to every store; return for any other status.

    429 is `RemoteThrottled` with the response's Retry-After, 5xx `RemoteUnavailable`,
    401/403 `RemoteAuthFailed`. The caller maps the rest (its own `RemoteRejected`).
    """
    status = response.status_code
    if status == 429:
        raise RemoteThrottled(
            message,
            retry_after_seconds=parse_retry_after(response.headers.get("Retry-After")),
            code=code,
        )
    if status >= 500:
        raise RemoteUnavailable(message, status=status, code=code)
    if status in (401, 403):
        raise RemoteAuthFailed(message, status=status, code=code)
