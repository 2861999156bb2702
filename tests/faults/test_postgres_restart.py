"""PostgreSQL stopped and started under a running hub: 503 with Retry-After, never a 500.

Real processes only: a throwaway cluster (`pg_createcluster`, on a free port, dropped at
the end) and `manage.py runhub` against it. While the cluster is down the API answers 503
in the JSON error shape and a page answers a short plain 503, both with Retry-After; an
order refused then is placed once when retried with the same Idempotency-Key after the
restart, and the ledger still equals the balances.
"""

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from inventory_hub.api.errors import DATABASE_RETRY_AFTER_SECONDS
from tests.faults.servers import ThrowawayPostgres
from tests.inventory_hub.hub_process import REPO, Hub, hub_env, migrate

pytestmark = pytest.mark.slow

SEED = """
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client
from rest_framework.authtoken.models import Token
from tests.stock.factories import VariantFactory, channel_selling_from, stocked
from tests.warehouses.factories import WarehouseFactory
from warehouses.access import Role

baltimore = WarehouseFactory(code="BAL")
channel_selling_from(baltimore, code="NA")
stocked(VariantFactory(sku="SHEET"), baltimore, 10)
user = get_user_model().objects.create_user(username="ops", password="unused")
user.groups.add(Group.objects.get_or_create(name=Role.OPS_STAFF.value)[0])
browser = Client()
browser.force_login(user)
print(Token.objects.create(user=user).key, browser.cookies["sessionid"].value)
"""

COUNT_ORDERS = "from stock.models import Order; print(Order.objects.count())"


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def request(hub: Hub, method: str, path: str, *, body=None, headers=None):
    """(status, headers, body text)."""
    data = None if body is None else json.dumps(body).encode()
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    sent = urllib.request.Request(hub.url(path), data=data, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(sent, timeout=30) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


@pytest.fixture
def postgres_server():
    server = ThrowawayPostgres()
    try:
        server.create()
        server.start()
        yield server
    finally:
        server.drop()


def test_requests_caught_in_a_postgres_restart_get_503_with_retry_after(postgres_server, tmp_path):
    env = hub_env(DATABASE_URL=postgres_server.url, HUB_HEARTBEAT_SECONDS="1")
    migrate(env)
    seeded = manage(env, "shell", "-c", SEED)
    assert seeded.returncode == 0, seeded.stderr
    token_key, session = seeded.stdout.strip().splitlines()[-1].split()
    token = {"Authorization": f"Token {token_key}"}
    cookie = {"Cookie": f"sessionid={session}"}
    order = {"channel": "NA", "reference": "R-1", "lines": [{"sku": "SHEET", "quantity": 2}]}
    keyed = token | {"Idempotency-Key": "order-r-1"}

    hub = Hub(env=env, log_path=tmp_path / "runhub.log")
    try:
        hub.wait_until_healthy(timeout=60)
        before = request(hub, "GET", "/api/v1/stock/", headers=token)

        postgres_server.stop()
        read = request(hub, "GET", "/api/v1/stock/", headers=token)
        refused = request(hub, "POST", "/api/v1/orders/", body=order, headers=keyed)
        page = request(hub, "GET", "/", headers=cookie)
        health = request(hub, "GET", "/healthz")

        postgres_server.start()
        deadline = time.monotonic() + 60
        while (again := request(hub, "GET", "/api/v1/stock/", headers=token))[0] != 200:
            assert time.monotonic() < deadline, f"no 200 after the restart: {again}"
            time.sleep(0.5)
        placed = request(hub, "POST", "/api/v1/orders/", body=order, headers=keyed)
        replayed = request(hub, "POST", "/api/v1/orders/", body=order, headers=keyed)
        hub.stop(timeout=30)
    finally:
        hub.kill()

    log = hub.log()[-4000:]
    assert before[0] == 200
    for reply in (read, refused):
        assert reply[0] == 503, (reply, log)
        assert reply[1]["Retry-After"] == str(DATABASE_RETRY_AFTER_SECONDS)
        assert reply[1]["Content-Type"] == "application/json"
        assert json.loads(reply[2])["error"]["code"] == "database_unavailable"
    assert page[0] == 503, (page, log)
    assert page[1]["Retry-After"] == str(DATABASE_RETRY_AFTER_SECONDS)
    assert page[1]["Content-Type"].startswith("text/plain")
    assert "503 Service Unavailable" in page[2]
    assert health[0] == 503
    assert json.loads(health[2])["status"] == "unhealthy"

    # The refused order was not half-written: retried with its key it is placed, once.
    assert placed[0] == 201, placed
    assert replayed[1]["Idempotent-Replayed"] == "true"
    assert manage(env, "shell", "-c", COUNT_ORDERS).stdout.strip().splitlines()[-1] == "1"
    verified = manage(env, "verify_ledger")
    assert verified.returncode == 0, verified.stdout + verified.stderr
