"""Headless Chromium and a live hub for the end-to-end browser tests (marker `browser`).

The hub under test is the real thing: `manage.py runhub` as its own process, serving HTTP
and WebSocket through uvicorn, with the embedded worker and channel layer, on the test
session's PostgreSQL database. Browser tests use `django_db(transaction=True)` so that what
they create is committed and the hub's process sees it. A stock change made through the
hub's API is published by that process to its own channel layer, exactly as in production.

Nothing here imports Playwright at import time: `tests/conftest.py` asks `why_no_browser()`
while collecting, on machines that may have neither Playwright nor Chromium.
"""

import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

from django.db import connection

from tests.inventory_hub.hub_process import REPO, free_port, hub_env

T = TypeVar("T")

# Debian's package; Playwright's own browser download does not work on these machines.
CHROMIUM_PATH = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Small enough to commit, wide enough for the stock table's eight columns.
VIEWPORT = {"width": 1280, "height": 800}
# runhub imports Django, starts the embedded worker and binds; a loaded CI machine is slow.
START_SECONDS = 60.0
# uvicorn gives open WebSockets 5 s to close, then the embedded worker stops (up to 10 s).
STOP_SECONDS = 30.0


def why_no_browser() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if importlib.util.find_spec("playwright") is None:
        return (
            "needs Playwright for Python, which is not installed "
            "(pip install -r requirements-dev.txt)"
        )
    if not os.access(CHROMIUM_PATH, os.X_OK):
        return (
            f"needs headless Chromium at {CHROMIUM_PATH}, which this machine does not have "
            "(apt-get install chromium; .ci/run installs it)"
        )
    return None


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=str(CHROMIUM_PATH), args=CHROMIUM_ARGS)


def outside_browser_loop(function: Callable[..., T], /, *args, **kwargs) -> T:
    """Run `function` on a thread of its own, with its own database connection.

    Playwright's sync API keeps its event loop registered as running on the test's thread,
    where `async_to_sync` refuses to run: a service called there would commit but fail to
    publish its stock.changed. Writes made while the browser is open go through this.
    """

    def run() -> T:
        try:
            return function(*args, **kwargs)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


def database_url(settings_dict: dict) -> str:
    """A DATABASE_URL naming the database Django is connected to (the test database)."""
    user = quote(settings_dict.get("USER") or "", safe="")
    password = settings_dict.get("PASSWORD") or ""
    credentials = f"{user}:{quote(password, safe='')}" if password else user
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{credentials}@{host}:{port}/{settings_dict['NAME']}"


class LiveHub:
    """`manage.py runhub` on one port, which it keeps across `stop()` and `start()`.

    Keeping the port is what lets an open page reconnect to the restarted hub by itself.
    """

    def __init__(self, *, database_url: str, log_path: Path) -> None:
        self.port = free_port()
        self.log_path = log_path
        # No REDIS_URL: worker, beat and channel layer run inside the hub's process, so the
        # API request that changes stock and the socket that shows it share one layer.
        self._env = hub_env(DATABASE_URL=database_url, LOG_LEVEL="WARNING")
        self.process: subprocess.Popen | None = None
        self.starts = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"\n--- start {self.starts} on port {self.port} ---\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "runhub", "--port", str(self.port)],
                cwd=REPO,
                env=self._env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait_until_serving()

    def _wait_until_serving(self) -> None:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"runhub exited with {self.process.returncode} while starting:\n{self.log()}"
                )
            try:
                # Not /healthz: it answers 503 until the worker's first heartbeat, which
                # the pages do not need.
                with urllib.request.urlopen(self.url("/login/"), timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        raise AssertionError(
            f"runhub did not serve /login/ within {START_SECONDS} s:\n{self.log()}"
        )

    def stop(self) -> None:
        """SIGTERM, as a process manager would, and wait until the port is free again."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(
                f"runhub did not stop within {STOP_SECONDS} s of SIGTERM:\n{self.log()}"
            ) from None

    def kill(self) -> None:
        """Clean-up after a failure: the hub must not outlive the tests."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")
