import pytest
from django.conf import settings
from django.db import connection


def pytest_collection_modifyitems(config, items):
    """Skip, saying why, tests that need a server this machine does not have."""
    engine = settings.DATABASES["default"]["ENGINE"]
    no_postgres = pytest.mark.skip(
        reason="needs PostgreSQL row locks; no PostgreSQL answered (set DATABASE_URL or start "
        "one on 127.0.0.1:5432), so the suite fell back to SQLite, which ignores them"
    )
    no_redis = pytest.mark.skip(
        reason="needs Redis; none answered (set REDIS_URL or start one on 127.0.0.1:6379)"
    )
    for item in items:
        if "postgres" in item.keywords and "postgresql" not in engine:
            item.add_marker(no_postgres)
        if "redis" in item.keywords and not settings.TEST_REDIS_URL:
            item.add_marker(no_redis)


@pytest.fixture
def verify_ledger_clean():
    """Use after a test's writes: every balance equals the sum of its ledger rows."""
    from stock.selectors import ledger_differences

    def check() -> None:
        differences = ledger_differences()
        assert differences == [], differences

    return check


@pytest.fixture
def is_postgres() -> bool:
    return connection.vendor == "postgresql"
