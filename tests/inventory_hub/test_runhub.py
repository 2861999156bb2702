import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings

from inventory_hub.management.commands.runhub import read_procfile
from tests.inventory_hub.hub_process import REPO, Hub, hub_env, is_running

HEARTBEAT_AGE = re.compile(r"last heartbeat ([\d.]+) s ago")


def heartbeat_age(health: dict) -> float:
    return float(HEARTBEAT_AGE.match(health["checks"]["worker"]["detail"]).group(1))


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


@pytest.fixture
def sqlite_database(migrated_sqlite, tmp_path) -> str:
    database = tmp_path / "hub.sqlite3"
    shutil.copy(migrated_sqlite, database)
    return f"sqlite:///{database}"


@pytest.mark.slow
def test_runhub_serves_http_with_worker_and_beat_inside_and_stops_on_sigterm(
    sqlite_database, tmp_path
):
    hub = Hub(
        env=hub_env(DATABASE_URL=sqlite_database, HUB_HEARTBEAT_SECONDS="1"),
        log_path=tmp_path / "runhub.log",
    )
    try:
        health = hub.wait_until_healthy(timeout=25).json()
        # The start-up heartbeat is older than this by then: a fresh one comes from beat.
        time.sleep(2.5)
        later = hub.get("/healthz")
        login = hub.get("/admin/login/")
        stylesheets = re.findall(r'<link rel="stylesheet" href="([^"]+)"', login.body.decode())
        css = [hub.get(href) for href in stylesheets]
        processes = hub.processes()

        code, seconds = hub.stop(timeout=15)
    finally:
        hub.kill()

    assert {name: check["ok"] for name, check in health["checks"].items()} == {
        "database": True,
        "channel_layer": True,
        "broker": True,
        "cache": True,
        "worker": True,
    }
    assert health["checks"]["channel_layer"]["detail"].startswith("EmbeddedChannelLayer:")
    assert health["checks"]["broker"]["detail"] == "memory answered"
    assert later.status == 200
    assert heartbeat_age(later.json()) < 2
    assert login.status == 200
    assert "/static/admin/css/base.css" in stylesheets
    assert [(reply.status, reply.content_type.split(";")[0]) for reply in css] == [
        (200, "text/css")
    ] * len(stylesheets)
    assert processes == set(), "worker and beat must be threads of the one process"
    assert code == 0, hub.log()
    # About 2 s when idle: beat wakes each second, the worker polls every 0.1 s.
    assert seconds < 10
    assert "Inventory Hub stopped." in hub.log()


@pytest.fixture
def hub_redis_url():
    """A Redis database of its own: a worker here must not take other runs' tasks."""
    parts = urlsplit(settings.TEST_REDIS_URL)
    url = urlunsplit(parts._replace(path="/13"))
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


@pytest.fixture
def hub_database_url(sqlite_database) -> str:
    """The test PostgreSQL database (migrated and committed, `transaction=True`) if any."""
    if connection.vendor != "postgresql":
        return sqlite_database
    db = connection.settings_dict
    user = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{user}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def start_redis_hub(*, database_url: str, redis_url: str, tmp_path) -> Hub:
    return Hub(
        env=hub_env(
            DATABASE_URL=database_url,
            REDIS_URL=redis_url,
            HUB_HEARTBEAT_SECONDS="1",
            HUB_BEAT_SCHEDULE_FILE=str(tmp_path / "celerybeat-schedule"),
        ),
        log_path=tmp_path / "runhub.log",
    )


def procfile_children(hub: Hub) -> dict[str, int]:
    """Process type → pid, for runhub's direct children started from the Procfile."""
    commands = {name: " ".join(argv[1:]) for name, argv in read_procfile().items()}
    children = {}
    for pid in hub.processes():
        if _parent(pid) != hub.process.pid:
            continue
        for name in ("worker", "beat"):
            if command_line(pid).endswith(commands[name]):
                children[name] = pid
    return children


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_runhub_with_redis_runs_the_procfile_worker_and_beat_and_stops_them_on_sigterm(
    hub_database_url, hub_redis_url, tmp_path
):
    hub = start_redis_hub(database_url=hub_database_url, redis_url=hub_redis_url, tmp_path=tmp_path)
    try:
        health = hub.wait_until_healthy(timeout=40).json()
        time.sleep(2.5)
        later = hub.get("/healthz")
        children = procfile_children(hub)
        processes = hub.processes()

        code, seconds = hub.stop(timeout=30)
        left_running = sorted(pid for pid in processes if is_running(pid))
    finally:
        hub.kill()

    assert health["checks"]["channel_layer"]["detail"].startswith("RedisPubSubChannelLayer:")
    assert health["checks"]["broker"]["detail"] == "redis answered"
    assert health["checks"]["database"]["detail"] == f"{connection.vendor} answered"
    assert heartbeat_age(later.json()) < 2, "beat keeps the worker's heartbeat fresh"
    assert sorted(children) == ["beat", "worker"], hub.log()
    assert code == 0, hub.log()
    assert seconds < 30
    assert left_running == []
    assert "worker: Warm shutdown" in hub.log()


@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_runhub_stops_everything_and_fails_when_its_worker_dies(
    hub_database_url, hub_redis_url, tmp_path
):
    hub = start_redis_hub(database_url=hub_database_url, redis_url=hub_redis_url, tmp_path=tmp_path)
    try:
        hub.wait_until_healthy(timeout=40)
        worker = procfile_children(hub)["worker"]
        processes = hub.processes()

        os.kill(worker, signal.SIGKILL)
        code = hub.process.wait(30)
        left_running = sorted(pid for pid in processes if is_running(pid))
    finally:
        hub.kill()

    assert code == 1
    assert f"Stopped the hub because worker (pid {worker}) exited with code -9." in hub.log()
    assert left_running == []


def test_runhub_refuses_web_only_without_redis():
    with (
        override_settings(HUB_EMBEDDED_WORKER=True),
        pytest.raises(CommandError, match="--web-only needs REDIS_URL"),
    ):
        call_command("runhub", "--web-only")


def test_runhub_exits_at_once_when_its_port_is_taken(sqlite_database):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]

        result = subprocess.run(
            [sys.executable, "manage.py", "runhub", "--port", str(port)],
            cwd=REPO,
            env=hub_env(DATABASE_URL=sqlite_database),
            capture_output=True,
            text=True,
            timeout=30,
        )

    assert result.returncode == 1
    assert "Address already in use" in result.stderr
    assert f"CommandError: Cannot listen on 127.0.0.1:{port}." in result.stderr
    assert "Embedded Celery worker and beat started" not in result.stderr


def test_procfile_line_without_a_command_is_refused_with_its_line_number(tmp_path):
    procfile = tmp_path / "Procfile"
    procfile.write_text("# comment\nweb: python manage.py runhub\nworker:\n")

    with pytest.raises(CommandError, match=r"Procfile:3: expected 'name: command'"):
        read_procfile(procfile)


def test_procfile_worker_and_beat_are_celery_processes_of_the_hub_app():
    procfile = read_procfile()

    assert procfile["worker"][:4] == ["celery", "-A", "inventory_hub", "worker"]
    assert procfile["beat"][:4] == ["celery", "-A", "inventory_hub", "beat"]
    assert procfile["web"][:4] == ["python", "manage.py", "runhub", "--web-only"]


@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_runhub_killed_outright_leaves_no_worker_or_beat_behind(
    hub_database_url, hub_redis_url, tmp_path
):
    hub = start_redis_hub(database_url=hub_database_url, redis_url=hub_redis_url, tmp_path=tmp_path)
    try:
        hub.wait_until_healthy(timeout=40)
        children = procfile_children(hub)
        processes = hub.processes()

        hub.process.kill()
        hub.process.wait(10)
        deadline = time.monotonic() + 30
        while any(is_running(pid) for pid in processes) and time.monotonic() < deadline:
            time.sleep(0.2)
        left_running = sorted(pid for pid in processes if is_running(pid))
    finally:
        hub.kill()

    assert sorted(children) == ["beat", "worker"]
    assert left_running == []
