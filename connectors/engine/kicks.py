"""Kicks: at most one task message per connector per interval from this process.

A burst of changes (orders committing, deliveries arriving) needs one worker run per
connector, not one message each: the run handles everything due. A kick inside the
interval is not dropped but sent when the interval ends, by a timer thread, so the last
change of a burst never waits for the beat sweeper.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from django.conf import settings


def kick_interval_seconds() -> float:
    return float(settings.CONNECTORS_KICK_INTERVAL_SECONDS)


class Debouncer:
    """Sends kicks for connector ids through `send`, one per id per kick interval.

    `sends_in_caller`: a kick whose interval has passed is sent at once by the caller
    (the outbox, after a commit); otherwise every kick goes through the timer thread (the
    inbox, kicked from the ASGI event loop, which must never wait for the broker).
    """

    sends_in_caller: bool = True

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.last_sent: dict[int, float] = {}
        self.waiting: set[int] = set()
        self.timer: threading.Timer | None = None

    def send(self, connector_ids: list[int]) -> None:
        raise NotImplementedError

    def kick(self, connector_ids: Iterable[int]) -> None:
        interval = kick_interval_seconds()
        now = time.monotonic()
        send_now: list[int] = []
        with self.lock:
            delay = interval
            for connector_id in connector_ids:
                due_at = self.last_sent.get(connector_id, float("-inf")) + interval
                if self.sends_in_caller and due_at <= now:
                    self.last_sent[connector_id] = now
                    send_now.append(connector_id)
                else:
                    self.waiting.add(connector_id)
                    delay = min(delay, max(due_at - now, 0.0))
            if self.waiting and self.timer is None:
                self.timer = threading.Timer(delay, self.flush)
                self.timer.daemon = True
                self.timer.start()
        if send_now:
            self.send(send_now)

    def flush(self) -> None:
        with self.lock:
            waiting, self.waiting, self.timer = sorted(self.waiting), set(), None
            now = time.monotonic()
            for connector_id in waiting:
                self.last_sent[connector_id] = now
        if waiting:
            self.send(waiting)
