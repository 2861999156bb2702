import pytest
from django.conf import settings
from django.db import connection

from tests.browser_support import why_no_browser


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
    _skip_browser_tests_without_chromium(items)


def _skip_browser_tests_without_chromium(items) -> None:
    reason = why_no_browser()
    if reason is None:
        return
    no_browser = pytest.mark.skip(reason=reason)
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(no_browser)


@pytest.fixture(autouse=True)
def fresh_process_memory():
    """Each test starts knowing what a new process knows about the database: nothing.

    Some services remember what they last read (whether any connector maps a variant, a
    channel's first warehouse) for the rest of the process or a few seconds. The database
    a test sees is not the one an earlier test left them remembering.
    """
    from connectors.outbox import forget_mapping_state
    from stock.services.orders.planned_sql import forget_every_unread_plan

    forget_mapping_state()
    forget_every_unread_plan()


@pytest.fixture(autouse=True)
def no_pending_reactive_check():
    """Every commit notes its variants for the suggestions' reactive check, whose timer
    queries the database: a test's pending timer must not fire into the next test."""
    from suggestions.reactions import batch

    yield
    batch.discard()


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


@pytest.fixture
def verify_ledger_chain():
    """Stronger than `verify_ledger_clean`: each level's rows, in id order, form one chain.

    Every row's balances-after equal the previous row's plus its deltas, the last row's
    equal the level, and the version counts the rows. A lost update or a write made
    without the lock breaks the chain even when the sums still agree.
    """
    from stock.models import StockLevel, StockMovement

    names = ("on_hand", "reserved", "unsellable", "safety_stock", "inbound")

    def check() -> None:
        broken = []
        for level in StockLevel.objects.order_by("pk"):
            running = dict.fromkeys(names, 0)
            rows = StockMovement.objects.filter(level=level).order_by("pk")
            for row in rows:
                for name in names:
                    running[name] += getattr(row, f"delta_{name}")
                after = {name: getattr(row, f"{name}_after") for name in names}
                if after != running:
                    broken.append((level.pk, row.pk, after, dict(running)))
            current = {name: getattr(level, name) for name in names}
            if current != running or level.version != len(rows):
                broken.append((level.pk, "level", current, running, level.version, len(rows)))
        assert broken == [], broken

    return check
