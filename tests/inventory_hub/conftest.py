from pathlib import Path

import pytest
from django.core.cache import cache

from inventory_hub.celery import app as celery_app
from tests.inventory_hub.hub_process import hub_env, migrate


@pytest.fixture(autouse=True)
def empty_cache():
    """The worker heartbeat lives in the cache; no test may see another's."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def use_broker():
    """Point the Celery app at another broker for one test (Celery reads its settings once)."""
    saved = celery_app.conf.broker_url, celery_app.conf.broker_transport_options

    def use(url: str, **transport_options) -> None:
        celery_app.conf.broker_url = url
        celery_app.conf.broker_transport_options = transport_options

    yield use
    celery_app.conf.broker_url, celery_app.conf.broker_transport_options = saved


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory) -> Path:
    """A SQLite database with every migration applied; copy it, never use it directly."""
    path = tmp_path_factory.mktemp("hub") / "migrated.sqlite3"
    migrate(hub_env(DATABASE_URL=f"sqlite:///{path}"))
    return path
