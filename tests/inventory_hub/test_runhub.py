import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from cryptography.fernet import Fernet
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings
from rest_framework.authtoken.models import Token

from connectors.models import InboxEvent, InboxState, SkuMapping
from connectors.woocommerce import webhook_signature
from inventory_hub.companions import read_procfile
from stock.models import Order, StockLevel
from tests.connectors.sync_support import WOO_SECRET, make_hub, woo_connector
from tests.fakes.woocommerce import FakeWooCommerce
from tests.inventory_hub.hub_process import (
    REPO,
    Hub,
    descendants,
    free_port,
    hub_env,
    is_running,
)

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
        "processes": True,
    }
    assert health["checks"]["processes"]["detail"].startswith(
        "worker and beat (embedded) up since "
    )
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
    assert "Settings: inventory_hub.settings.local (DEBUG on)" in hub.log()
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


@pytest.fixture
def throwaway_redis_url(tmp_path):
    """A Redis server of this test's own, on a free port: never the machine's shared one."""
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    client.close()
    server.terminate()
    server.wait(10)


def signed_woo_order(*, order_id: int, sku: str, quantity: int) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {
            "id": order_id,
            "status": "processing",
            "date_modified_gmt": "2026-12-07T10:00:00",
            "line_items": [{"sku": sku, "quantity": quantity}],
        }
    ).encode()
    return body, {
        "Content-Type": "application/json",
        "X-WC-Webhook-Topic": "order.created",
        "X-WC-Webhook-Delivery-ID": f"delivery-{order_id}",
        "X-WC-Webhook-Signature": webhook_signature(body, WOO_SECRET),
    }


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status


def wait_until(condition, *, seconds: float, what: str, hub: Hub):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not {what} after {seconds} s\n{hub.log()}")


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_runhub_restarts_a_killed_worker_and_keeps_serving_in_the_gap(
    hub_database_url, throwaway_redis_url, tmp_path, verify_ledger_chain
):
    shop = make_hub({"GAP-1": 10})
    with FakeWooCommerce(delivery_mode="sync") as woo:
        connector = woo_connector(woo, shop.channel, webhook_secret=WOO_SECRET)
        SkuMapping.objects.create(
            connector=connector, variant=shop.variants["GAP-1"], remote_id="woo-gap-1"
        )
        user = get_user_model().objects.create_superuser("gap-ops", "ops@example.com", "x")
        token = Token.objects.create(user=user).key
        hub = Hub(
            env=hub_env(
                DATABASE_URL=hub_database_url,
                REDIS_URL=throwaway_redis_url,
                HUB_HEARTBEAT_SECONDS="1",
                HUB_BEAT_SCHEDULE_FILE=str(tmp_path / "celerybeat-schedule"),
                # Long enough to look at the gap before the new worker consumes.
                HUB_RESTART_BACKOFF_SECONDS="3",
            ),
            log_path=tmp_path / "runhub.log",
        )
        try:
            hub.wait_until_healthy(timeout=40)
            worker = procfile_children(hub)["worker"]
            pool = descendants(worker)

            os.kill(worker, signal.SIGKILL)
            gap = wait_until(
                lambda: (
                    (reply := hub.get("/healthz")).status == 200
                    and "processes" in reply.json().get("degraded", [])
                    and reply
                ),
                seconds=5,
                what="reporting the dead worker",
                hub=hub,
            ).json()
            body, headers = signed_woo_order(order_id=501, sku="GAP-1", quantity=2)
            webhook = post(hub.url(f"/connectors/{connector.pk}/inbound/"), body, headers)
            api = urllib.request.urlopen(
                urllib.request.Request(
                    hub.url("/api/v1/warehouses/"), headers={"Authorization": f"Token {token}"}
                ),
                timeout=5,
            ).status
            state_in_gap = InboxEvent.objects.get(connector=connector).state

            wait_until(
                lambda: InboxEvent.objects.get(connector=connector).state == InboxState.PROCESSED,
                seconds=40,
                what="processed by the restarted worker",
                hub=hub,
            )
            after = hub.wait_until_healthy(timeout=20).json()
            new_worker = procfile_children(hub)["worker"]
            # The same delivery again, as WooCommerce would retry it: still one order.
            again = post(hub.url(f"/connectors/{connector.pk}/inbound/"), body, headers)
            time.sleep(2)
            code, _ = hub.stop(timeout=30)
        finally:
            hub.kill()

    processes = gap["checks"]["processes"]
    assert processes["ok"] is False
    assert re.search(
        r"worker down since \S+ \(pid \d+ exited with code -9\), restarting in [\d.]+ s, "
        r"0 restarts so far",
        processes["detail"],
    ), processes
    assert "beat (pid" in processes["detail"]
    assert (webhook, api) == (200, 200)
    assert state_in_gap == InboxState.RECEIVED
    assert after["checks"]["processes"]["ok"] is True
    assert re.search(
        rf"worker \(pid {new_worker}\) up since \S+, 1 restart so far",
        after["checks"]["processes"]["detail"],
    ), after
    assert new_worker != worker
    assert not any(is_running(pid) for pid in pool), "the dead worker's pool was left running"
    assert again == 200
    assert InboxEvent.objects.filter(connector=connector).count() == 1
    order = Order.objects.get(channel=shop.channel, reference="501")
    assert order.lines.get().quantity == 2
    level = StockLevel.objects.get(variant=shop.variants["GAP-1"], warehouse=shop.warehouse)
    assert (level.on_hand, level.reserved) == (10, 2)
    verify_ledger_chain()
    assert "worker died (pid" in hub.log()
    assert code == 0, hub.log()


@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_runhub_gives_up_loudly_when_a_child_keeps_dying_at_once(
    hub_database_url, throwaway_redis_url, tmp_path
):
    hub = Hub(
        env=hub_env(
            DATABASE_URL=hub_database_url,
            REDIS_URL=throwaway_redis_url,
            # Beat cannot write its schedule there: it exits right after starting.
            HUB_BEAT_SCHEDULE_FILE=str(tmp_path / "missing" / "celerybeat-schedule"),
            HUB_RESTART_BACKOFF_SECONDS="1",
            HUB_RESTART_LIMIT="3",
        ),
        log_path=tmp_path / "runhub.log",
    )
    try:
        code = hub.process.wait(90)
    finally:
        hub.kill()

    log = hub.log()
    assert code == 1, log
    assert log.count("beat died (pid") == 2, log
    assert re.search(
        r"CommandError: Stopped the hub because beat died 3 times in a row, each within 30 s "
        r"of its start \(last: pid \d+ exited with code 1\)\.",
        log,
    ), log
    assert "worker: Warm shutdown" in log


def test_runhub_refuses_web_only_without_redis():
    with (
        override_settings(HUB_EMBEDDED_WORKER=True),
        pytest.raises(CommandError, match="--web-only needs REDIS_URL"),
    ):
        call_command("runhub", "--web-only")


@pytest.mark.parametrize(
    ("arguments", "why"),
    [(["--web-only"], "--web-only"), (["--host", "0.0.0.0"], "--host 0.0.0.0")],
    ids=["web-only", "all-interfaces"],
)
def test_runhub_refuses_a_production_start_with_debug_on_naming_the_settings_variable(
    arguments, why
):
    with (
        override_settings(DEBUG=True, HUB_EMBEDDED_WORKER=False),
        pytest.raises(CommandError) as refused,
    ):
        call_command("runhub", *arguments)

    module = os.environ["DJANGO_SETTINGS_MODULE"]
    assert str(refused.value) == (
        f"Refusing to start with DEBUG on ({module}) and {why}: error pages "
        "would show settings to anyone. Set "
        "DJANGO_SETTINGS_MODULE=inventory_hub.settings.production (as the Procfile does), "
        "or DEBUG=0 for a local run."
    )


@pytest.mark.redis
@pytest.mark.slow
def test_procfile_web_line_run_by_a_procfile_runner_serves_production_settings(
    sqlite_database, throwaway_redis_url, tmp_path
):
    port = free_port()
    [web] = [line for line in (REPO / "Procfile").read_text().splitlines() if line[:4] == "web:"]
    log_path = tmp_path / "web.log"
    with log_path.open("wb") as log:
        # As honcho or a PaaS runs it: the line through a shell, in the platform's environment.
        runner = subprocess.Popen(
            ["sh", "-c", web.removeprefix("web:")],
            cwd=REPO,
            # hub_env says DJANGO_SETTINGS_MODULE=...local: the Procfile's own must win.
            env=hub_env(
                DATABASE_URL=sqlite_database,
                REDIS_URL=throwaway_redis_url,
                SECRET_KEY="procfile-test-key-" + "x" * 40,
                HUB_SECRET_KEYS=Fernet.generate_key().decode(),
                # Plain HTTP on loopback here: a proxy would terminate TLS in production.
                SECURE_SSL_REDIRECT="0",
                PORT=str(port),
                # The platform's `python` is the one with the hub's requirements.
                PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 30
            while b"Settings: " not in log_path.read_bytes():
                assert runner.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.1)
            time.sleep(1)
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/no-such-page/", timeout=5)
            except urllib.error.HTTPError as error:
                missing = error.code, error.read().decode()
        finally:
            os.killpg(runner.pid, signal.SIGTERM)
            runner.wait(30)

    output = log_path.read_text()
    assert "Settings: inventory_hub.settings.production (DEBUG off)" in output
    assert missing[0] == 404
    assert "Django tried these URL patterns" not in missing[1], "DEBUG's page, with the urlconf"


def test_procfile_runs_every_process_on_production_settings():
    lines = [
        line
        for line in (REPO / "Procfile").read_text().splitlines()
        if line and not line.startswith("#")
    ]

    assert sorted(line.partition(":")[0] for line in lines) == ["beat", "web", "worker"]
    for line in lines:
        command = line.partition(":")[2].split()
        assert command[0] == "DJANGO_SETTINGS_MODULE=inventory_hub.settings.production", line


def test_procfile_variable_assignments_are_left_to_the_runner_not_runhub(tmp_path):
    procfile = tmp_path / "Procfile"
    procfile.write_text("worker: A=1 B_2='x y' celery -A inventory_hub worker\nbeat: A=1\n")

    with pytest.raises(CommandError, match=r"Procfile:2: expected 'name: command'"):
        read_procfile(procfile)
    procfile.write_text("worker: A=1 B_2='x y' celery -A inventory_hub worker\n")
    assert read_procfile(procfile) == {"worker": ["celery", "-A", "inventory_hub", "worker"]}


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
