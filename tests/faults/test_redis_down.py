"""Redis stopped under a running hub, then started again: the hub keeps answering.

Real processes only: `manage.py runhub --web-only` and the Procfile's worker and beat
against the test database and a throwaway `redis-server`, which the test stops and starts.
(Celery's worker may exit when its broker goes away: the web process must not care, and
whatever runs the worker starts it again; that is `runhub`'s own job when it runs them.)

While Redis is down the API (a read, an order, public availability), a dashboard page and
webhook intake answer from PostgreSQL, /healthz says degraded, and a live page is told
updates are paused. Once Redis is back /healthz is ok again, the webhook held in the inbox
is applied once, and nothing is lost or doubled: the orders, the ledger against the
balances, the inbox.
"""

import json
import time
import urllib.error
import urllib.request

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import connection
from django.test import Client
from rest_framework.authtoken.models import Token

from connectors.models import Connector, InboxEvent, InboxState
from connectors.woocommerce import webhook_signature
from inventory_hub.shell.consumers import CLOSE_PAUSED
from stock.models import Order
from stock.selectors import ledger_differences
from tests.faults.servers import ProcfileCompanions, ThrowawayRedis
from tests.inventory_hub.hub_process import Hub, free_port, hub_env
from tests.stock.factories import VariantFactory, channel_selling_from, stocked
from tests.warehouses.factories import WarehouseFactory
from warehouses.access import Role

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

SECRET = "s3cret"
# Every answer while Redis is down must come quickly: the cache skips a Redis it just
# failed to reach instead of waiting on it for every call.
QUICK_SECONDS = 5


def hub_database_url() -> str:
    db = connection.settings_dict
    user = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{user}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def request(hub: Hub, method: str, path: str, *, body=None, headers=None):
    """(status, headers, parsed JSON or text, seconds)."""
    data = (
        None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    )
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    sent = urllib.request.Request(hub.url(path), data=data, method=method, headers=all_headers)
    started = time.monotonic()
    try:
        with urllib.request.urlopen(sent, timeout=15) as response:
            status, reply_headers, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, reply_headers, raw = error.code, error.headers, error.read()
    elapsed = time.monotonic() - started
    text = raw.decode(errors="replace")
    is_json = (reply_headers["Content-Type"] or "").startswith("application/json")
    return status, reply_headers, json.loads(text) if is_json else text, elapsed


def health(hub: Hub) -> dict:
    return request(hub, "GET", "/healthz")[2]


def wait_for(predicate, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        found = predicate()
        if found:
            return found
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.5)


def open_live(hub: Hub, cookie: str):
    from websockets.sync.client import connect

    url = f"ws://127.0.0.1:{hub.port}/ws/live/overview/"
    headers = {"Cookie": cookie, "Origin": f"http://127.0.0.1:{hub.port}"}
    return connect(url, additional_headers=headers, open_timeout=10)


def close_code(socket, *, timeout: float = 15) -> int | None:
    """The code the server closes `socket` with (messages before it are skipped)."""
    from websockets.exceptions import ConnectionClosed

    deadline = time.monotonic() + timeout
    with socket:
        try:
            while time.monotonic() < deadline:
                socket.recv(timeout=max(0.1, deadline - time.monotonic()))
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None
        except TimeoutError:
            pass
    return None


@pytest.fixture
def redis_server(tmp_path):
    server = ThrowawayRedis(log_path=tmp_path / "redis.log")
    try:
        server.start()
        yield server
    finally:
        server.stop()


def test_the_hub_answers_from_postgresql_while_redis_is_down_and_loses_nothing(
    redis_server, tmp_path
):
    baltimore = WarehouseFactory(code="BAL")
    america = channel_selling_from(baltimore, code="NA")
    stocked(VariantFactory(sku="SHEET"), baltimore, 100)
    user = get_user_model().objects.create_user(username="ops", password="unused")
    user.groups.add(Group.objects.get_or_create(name=Role.OPS_STAFF.value)[0])
    token = {"Authorization": f"Token {Token.objects.create(user=user).key}"}
    browser = Client()
    browser.force_login(user)
    cookie = f"sessionid={browser.cookies['sessionid'].value}"
    # The store is a closed port: pushes to it fail and retry, which this test ignores.
    shop = Connector.objects.create(
        name="woo",
        kind="woocommerce",
        base_url=f"http://127.0.0.1:{free_port()}",
        webhook_secret=SECRET,
        channel=america,
    )
    webhook = json.dumps(
        {"id": 501, "status": "processing", "line_items": [{"sku": "SHEET", "quantity": 3}]}
    ).encode()
    webhook_headers = {
        "X-WC-Webhook-Topic": "order.created",
        "X-WC-Webhook-Delivery-ID": "9001",
        "X-WC-Webhook-Signature": webhook_signature(webhook, SECRET),
    }
    order = {"channel": "NA", "reference": "API-1", "lines": [{"sku": "SHEET", "quantity": 2}]}

    env = hub_env(
        DATABASE_URL=hub_database_url(),
        REDIS_URL=redis_server.url,
        HUB_HEARTBEAT_SECONDS="1",
        HUB_BEAT_SCHEDULE_FILE=str(tmp_path / "celerybeat-schedule"),
        # runhub refuses --web-only with DEBUG on (a production-like start).
        DEBUG="0",
    )
    companions = ProcfileCompanions(env=env, log_dir=tmp_path)
    companions.start()
    hub = Hub(env=env, log_path=tmp_path / "runhub.log", args=("--web-only",))
    try:
        hub.wait_until_healthy(timeout=60)
        assert request(hub, "GET", "/api/v1/stock/", headers=token)[0] == 200
        watching = open_live(hub, cookie)

        redis_server.stop()
        read = request(hub, "GET", "/api/v1/stock/", headers=token)
        placed = request(
            hub, "POST", "/api/v1/orders/", body=order, headers=token | {"Idempotency-Key": "k-1"}
        )
        replayed = request(
            hub, "POST", "/api/v1/orders/", body=order, headers=token | {"Idempotency-Key": "k-1"}
        )
        public = request(hub, "GET", "/api/v1/availability/?channel=NA&sku=SHEET")
        page = request(hub, "GET", "/", headers={"Cookie": cookie})
        delivered = request(
            hub, "POST", f"/connectors/{shop.pk}/inbound/", body=webhook, headers=webhook_headers
        )
        degraded = request(hub, "GET", "/healthz")
        paused_open = close_code(watching)
        paused_new = close_code(open_live(hub, cookie))

        redis_server.start()
        companions.restart_dead()
        recovered = wait_for(
            lambda: (body := health(hub))["status"] == "ok" and body,
            timeout=90,
            what="/healthz ok again after Redis came back",
        )
        wait_for(
            lambda: not InboxEvent.objects.filter(state=InboxState.RECEIVED).exists(),
            timeout=60,
            what="the webhook held in the inbox applied",
        )
        after = request(hub, "GET", "/api/v1/availability/?channel=NA&sku=SHEET")
        hub.stop(timeout=30)
    finally:
        hub.kill()
        companions.stop()

    for name, reply in {
        "read": read,
        "order": placed,
        "replay": replayed,
        "availability": public,
        "dashboard": page,
        "webhook": delivered,
    }.items():
        assert reply[0] in (200, 201), (name, reply[0], reply[2], hub.log()[-3000:])
        assert reply[3] < QUICK_SECONDS, (name, reply[3])
    assert placed[0] == 201
    assert replayed[1]["Idempotent-Replayed"] == "true"
    assert public[2]["items"][0]["salable_quantity"] == 98
    assert delivered[2]["status"] == "accepted"
    assert degraded[0] == 200
    assert degraded[2]["status"] == "degraded", degraded[2]
    assert {"cache", "channel_layer", "broker"} <= set(degraded[2]["degraded"])
    assert degraded[2]["checks"]["database"]["ok"] is True
    assert paused_open == CLOSE_PAUSED, "an open live page is told within a few seconds"
    assert paused_new == CLOSE_PAUSED, "a page opened meanwhile is told at once"
    assert recovered["checks"]["cache"]["ok"] is True

    # Nothing lost or doubled: one API order (the replay did not place another), one store
    # order from the one delivery, its event applied once, and the ledger = the balances.
    assert sorted(Order.objects.values_list("reference", flat=True)) == ["501", "API-1"]
    event = InboxEvent.objects.get()
    assert event.state == InboxState.PROCESSED, (event.state, event.last_error)
    assert event.attempts == 1
    assert after[2]["items"][0]["salable_quantity"] == 95
    assert ledger_differences() == []
    call_command("verify_ledger")
