"""A real worker process killed with SIGKILL while a remote server holds its request open:
what a crash mid-send looks like to the row it was sending."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings

from tests.browser_support import database_url

ROOT = Path(__file__).resolve().parents[1]


def kill_worker_mid_request(
    code: str, args: list[str], *, reached: Callable[[], object], what: str
) -> float:
    """Run `python -c code *args` against the test database until `reached()` says its
    request arrived, then SIGKILL it. Returns the monotonic time of the kill."""
    worker = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "inventory_hub.settings.test",
            "DATABASE_URL": database_url(settings.DATABASES["default"]),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while not reached() and time.monotonic() < deadline:
            assert worker.poll() is None, worker.communicate()
            time.sleep(0.05)
        assert reached(), f"the worker never reached {what}"
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
    return time.monotonic()
