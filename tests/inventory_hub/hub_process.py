"""Start `manage.py runhub` as a real process and look at it from outside."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def hub_env(**overrides: str) -> dict[str, str]:
    """The environment of `make run` on a fresh machine, plus `overrides`."""
    env = {key: value for key, value in os.environ.items() if key not in _CONFIGURATION}
    env.update(DJANGO_SETTINGS_MODULE="inventory_hub.settings.local", PYTHONUNBUFFERED="1")
    env.update(overrides)
    return env


_CONFIGURATION = {
    "DATABASE_URL",
    "REDIS_URL",
    "DEBUG",
    "SECRET_KEY",
    "HUB_SECRET_KEYS",
    "PORT",
    "DJANGO_SETTINGS_MODULE",
}


def migrate(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes
    content_type: str

    def json(self) -> dict:
        return json.loads(self.body)


def descendants(pid: int) -> set[int]:
    """Every live process below `pid`, read from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may contain spaces; the fields after its closing ")" do not.
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: set[int] = set()
    pending = [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.add(child)
            pending.append(child)
    return found


def _start_time(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except OSError:
        return ""


def is_running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class Hub:
    """`manage.py runhub` on a free port, its output in a log file."""

    def __init__(self, *, env: dict[str, str], log_path: Path, args: tuple[str, ...] = ()) -> None:
        self.port = free_port()
        self.log_path = log_path
        self._log = log_path.open("wb")
        self._seen: dict[int, str] = {}
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "runhub", "--port", str(self.port), *args],
            cwd=REPO,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str) -> Reply:
        try:
            with urllib.request.urlopen(self.url(path), timeout=5) as response:
                return Reply(response.status, response.read(), response.headers["Content-Type"])
        except urllib.error.HTTPError as error:
            return Reply(error.code, error.read(), error.headers["Content-Type"])

    def wait_until_healthy(self, *, timeout: float) -> Reply:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"runhub exited with {self.process.returncode}:\n{self.log()}")
            try:
                last = self.get("/healthz")
            except (urllib.error.URLError, ConnectionError):
                last = None
            # "ok", not only 200: a hub still waiting for its worker answers "degraded".
            if last is not None and last.status == 200 and last.json()["status"] == "ok":
                return last
            time.sleep(0.2)
        raise AssertionError(f"/healthz not 200 after {timeout} s: {last}\n{self.log()}")

    def processes(self) -> set[int]:
        """runhub's live descendants; remembered, so that `kill` finds them even orphaned."""
        found = descendants(self.process.pid)
        self._seen.update({pid: _start_time(pid) for pid in found})
        return found

    def stop(self, *, timeout: float) -> tuple[int, float]:
        """SIGTERM, as a process manager would; returns (exit code, seconds taken)."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout)
        return code, time.monotonic() - started

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """Clean-up after a failed test: nothing may outlive it."""
        self.processes()
        for pid, started in self._seen.items():
            # The start time tells our process from a later one that reused its pid.
            if is_running(pid) and _start_time(pid) == started:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._log.close()
