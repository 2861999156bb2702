"""Throwaway Redis and PostgreSQL servers on free ports, for fault tests.

The machine's shared servers (5432, 6379) are never stopped: a fault test starts its own,
stops and starts it as the fault, and removes it afterwards, even when the test failed.
"""

import contextlib
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest
import redis

from inventory_hub.companions import read_procfile
from tests.inventory_hub.hub_process import REPO, free_port

PG_VERSION = "15"


class ThrowawayRedis:
    """`redis-server` on a free port, without persistence: a stop loses what it held."""

    def __init__(self, *, log_path: Path) -> None:
        if shutil.which("redis-server") is None:
            pytest.skip("redis-server is not installed: the Redis fault test needs its own")
        self.port = free_port()
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no"]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while True:
            client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
            with contextlib.suppress(redis.ConnectionError), client:
                client.ping()
                return
            assert time.monotonic() < deadline, f"redis-server did not start: {self.log_path}"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


class ThrowawayPostgres:
    """A PostgreSQL cluster of its own (pg_createcluster), trusting local TCP connections."""

    def __init__(self) -> None:
        if shutil.which("pg_createcluster") is None or shutil.which("pg_ctlcluster") is None:
            pytest.skip("pg_createcluster is not installed: the PostgreSQL fault test needs it")
        self.port = free_port()
        self.name = f"fault{uuid.uuid4().hex[:8]}"
        self.created = False

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def create(self) -> None:
        subprocess.run(
            ["pg_createcluster", "-p", str(self.port), PG_VERSION, self.name, "--", "--auth=trust"],
            check=True,
            capture_output=True,
            timeout=120,
        )
        self.created = True

    def start(self) -> None:
        self._ctl("start")
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(psycopg.OperationalError):
                psycopg.connect(self.url, connect_timeout=1).close()
                return
            assert time.monotonic() < deadline, "the throwaway PostgreSQL did not start"
            time.sleep(0.1)

    def stop(self) -> None:
        self._ctl("stop")

    def drop(self) -> None:
        if self.created:
            subprocess.run(
                ["pg_dropcluster", PG_VERSION, self.name, "--stop"],
                capture_output=True,
                timeout=60,
            )
            self.created = False

    def _ctl(self, action: str) -> None:
        subprocess.run(
            ["pg_ctlcluster", PG_VERSION, self.name, action],
            check=True,
            capture_output=True,
            timeout=60,
        )


class ProcfileCompanions:
    """The Procfile's worker and beat, run beside a `runhub --web-only` as a process manager
    would: one that exited is started again (`restart_dead`), which is the manager's job.
    """

    def __init__(self, *, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.commands = {name: read_procfile()[name] for name in ("worker", "beat")}
        self.processes: dict[str, subprocess.Popen] = {}
        self.restarts: list[str] = []

    def start(self) -> None:
        for name in self.commands:
            self._start(name)

    def _start(self, name: str) -> None:
        argv = self.commands[name]
        assert argv[0] == "celery", argv
        with (self.log_dir / f"{name}.log").open("ab") as log:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", "celery", *argv[1:]],
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def restart_dead(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                self.restarts.append(f"{name} exited with {process.returncode}")
                self._start(name)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
