import pytest
from django.core.cache import cache

from alerts.reactions import batch
from alerts.selectors import ACTIVE_CONDITIONS_KEY, forget_active_conditions
from inventory_hub.celery import app as celery_app
from inventory_hub.embedded import EmbeddedWorker


@pytest.fixture(autouse=True)
def fresh_alerts_memory():
    """Each test starts with no published rules and nothing waiting in the batch, and
    leaves none for the tests of other apps (whose commits then note nothing)."""
    cache.delete(ACTIVE_CONDITIONS_KEY)
    forget_active_conditions()
    batch.discard()
    sent = batch.sent
    yield
    batch.discard()
    batch.sent = sent
    cache.delete(ACTIVE_CONDITIONS_KEY)
    forget_active_conditions()


@pytest.fixture
def worker():
    """A real Celery worker in this process, on the memory broker (tests/connectors does
    the same): what the reactions queue, it runs."""
    celery_app.control.purge()  # the memory broker is shared by the whole test process
    running = EmbeddedWorker(app=celery_app)
    running.start()
    yield running
    running.stop()
    celery_app.control.purge()


# The live hub and headless Chromium of the stock pages' browser tests, shared as they are.
from tests.stock.conftest import browser_page, chromium, live_hub  # noqa: E402, F401
