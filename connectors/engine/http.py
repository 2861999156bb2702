"""The HTTP session the engine hands to store classes: a per-connector rate limit and a
default timeout on every request, whatever the store class remembers to pass.

The limit is a token bucket in this process. Pushes for one connector run one at a time
(see `connectors.engine.push`), so within the push path it is the store's whole budget.
"""

from __future__ import annotations

import threading
import time

import requests


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
