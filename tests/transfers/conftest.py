import pytest

# The live hub and headless Chromium of the stock pages' browser tests, shared as they are.
from tests.stock.conftest import browser_page, chromium, live_hub  # noqa: F401


@pytest.fixture(autouse=True)
def ledger_agrees_after_each_test(request, verify_ledger_clean):
    """After every test here, each balance equals the sum of its ledger rows."""
    yield
    if "django_db" in request.keywords:
        verify_ledger_clean()
