"""With Redis unreachable the hub answers from PostgreSQL; a lost database answers 503.

Redis is "down" here as it is for real: the cache points at a port where nothing listens.
"""

import logging

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import connection
from django.test import override_settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from inventory_hub import cache as fail_open
from inventory_hub.api.errors import DATABASE_RETRY_AFTER_SECONDS
from inventory_hub.cache import FailOpenRedisCache, cache_outage
from stock.models import Order
from tests.inventory_hub.hub_process import free_port
from tests.stock.factories import VariantFactory, channel_selling_from, stocked
from tests.warehouses.factories import WarehouseFactory
from warehouses.access import Role


def closed_port_cache() -> dict:
    return {
        "default": {
            "BACKEND": "inventory_hub.cache.FailOpenRedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }


@pytest.fixture(autouse=True)
def fresh_outages():
    fail_open.outages.reset()
    yield
    fail_open.outages.reset()


@pytest.fixture
def redis_down():
    with override_settings(CACHES=closed_port_cache()):
        yield


def test_the_cache_answers_not_cached_when_redis_is_unreachable(redis_down, caplog):
    caplog.set_level(logging.WARNING, logger="inventory_hub.cache")

    assert cache.get("key", "fallback") == "fallback"
    cache.set("key", 1)
    assert cache.add("key", 1) is False
    assert cache.get_many(["a", "b"]) == {}
    assert cache.set_many({"a": 1, "b": 2}) == ["a", "b"]
    cache.delete_many(["a"])
    with pytest.raises(ValueError):
        cache.incr("counter")

    outage = cache_outage()
    assert outage.failures == 7
    assert outage.is_skipping
    assert "ConnectionError" in outage.last_error
    warnings = [r for r in caplog.records if r.name == "inventory_hub.cache"]
    assert len(warnings) == 1, "logged once per interval, not once per call"


@pytest.mark.redis
def test_the_cache_tries_redis_again_after_the_retry_interval(monkeypatch):
    if not _redis_url():
        pytest.skip("no Redis server answers at REDIS_URL / 127.0.0.1:6379")
    down = FailOpenRedisCache(f"redis://127.0.0.1:{free_port()}/0", {})
    assert down.get("key") is None
    assert cache_outage().is_skipping

    up = FailOpenRedisCache(_redis_url(), {"KEY_PREFIX": "outage-test"})
    assert up.get("key", "skipped") == "skipped", "skips Redis right after a failure"
    monkeypatch.setattr(fail_open, "RETRY_SECONDS", 0.0)
    up.set("key", "stored", timeout=5)
    assert up.get("key") == "stored"
    up.delete("key")


def _redis_url() -> str:
    from django.conf import settings

    return settings.TEST_REDIS_URL


@pytest.mark.django_db
def test_api_reads_orders_and_public_availability_answer_with_redis_down(redis_down):
    baltimore = WarehouseFactory(code="BAL")
    america = channel_selling_from(baltimore, code="NA")
    stocked(VariantFactory(sku="SHEET"), baltimore, 10)
    user = get_user_model().objects.create_user(username="ops", password="x")
    user.groups.add(Group.objects.get_or_create(name=Role.OPS_STAFF.value)[0])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")

    read = client.get("/api/v1/stock/")
    order = client.post(
        "/api/v1/orders/",
        {"channel": "NA", "reference": "R-1", "lines": [{"sku": "SHEET", "quantity": 2}]},
        format="json",
    )
    public = APIClient().get("/api/v1/availability/", {"channel": america.code, "sku": "SHEET"})

    assert read.status_code == 200, read.content
    assert order.status_code == 201, order.content
    assert public.status_code == 200, public.content
    assert public.json()["items"][0]["salable_quantity"] == 8
    assert Order.objects.count() == 1
    assert cache_outage().failures > 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/", "/stock/", "/variants/SHEET/", "/orders/", "/connectors/", "/admin/"]
)
def test_dashboard_pages_answer_with_redis_down(redis_down, admin_client, path):
    baltimore = WarehouseFactory(code="BAL")
    stocked(VariantFactory(sku="SHEET"), baltimore, 10)

    response = admin_client.get(path)

    assert response.status_code == 200


@pytest.mark.django_db
def test_healthz_is_degraded_not_down_naming_the_cache_when_redis_is_unreachable(redis_down):
    response = APIClient().get("/healthz")

    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "degraded"
    assert "cache" in body["degraded"]
    assert body["checks"]["database"]["ok"] is True
    assert "answering uncached and unthrottled" in body["checks"]["cache"]["detail"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("path", "content_type"),
    [("/api/v1/stock/", "application/json"), ("/", "text/plain; charset=utf-8")],
)
def test_a_request_whose_database_connection_was_terminated_gets_503_with_retry_after(
    path, content_type, admin_client, django_db_blocker
):
    import psycopg

    admin_client.get(path)  # a connection of the test's thread, opened and in use
    pid = connection.connection.info.backend_pid
    params = connection.get_connection_params()
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    try:
        response = admin_client.get(path, HTTP_ACCEPT=content_type)
    finally:
        connection.close()

    assert response.status_code == 503
    assert response["Retry-After"] == str(DATABASE_RETRY_AFTER_SECONDS)
    assert response["Content-Type"] == content_type
    if content_type == "application/json":
        assert response.json()["error"]["code"] == "database_unavailable"
    else:
        assert b"503 Service Unavailable" in response.content


CLOSED_LAYER = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [{"address": "redis://127.0.0.1:6390/0", "socket_connect_timeout": 1}]},
    }
}


@pytest.mark.django_db(transaction=True)
def test_a_live_page_is_told_live_updates_are_paused_when_the_channel_layer_is_down():
    from asgiref.sync import async_to_sync
    from channels.testing import WebsocketCommunicator
    from django.test import Client

    from inventory_hub.asgi import application
    from inventory_hub.shell.consumers import CLOSE_PAUSED

    user = get_user_model().objects.create_user(username="ops", password="unused")
    user.groups.add(Group.objects.get_or_create(name=Role.OPS_STAFF.value)[0])
    browser = Client()
    browser.force_login(user)
    headers = [
        (b"origin", b"http://127.0.0.1"),
        (b"host", b"127.0.0.1"),
        (b"cookie", f"sessionid={browser.cookies['sessionid'].value}".encode()),
    ]

    async def scenario():
        socket = WebsocketCommunicator(application, "/ws/live/overview/", headers=headers)
        connected, _ = await socket.connect(timeout=5)
        closed = await socket.receive_output(timeout=5)
        await socket.disconnect()
        return connected, closed

    with override_settings(CHANNEL_LAYERS=CLOSED_LAYER):
        from channels.layers import channel_layers

        channel_layers.backends.pop("default", None)
        try:
            connected, closed = async_to_sync(scenario)()
        finally:
            channel_layers.backends.pop("default", None)

    assert connected is True
    assert closed == {"type": "websocket.close", "code": CLOSE_PAUSED}
