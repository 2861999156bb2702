import pytest

# The live hub and headless Chromium of the stock pages' browser tests, shared as they are.
from tests.stock.conftest import browser_page, chromium, live_hub  # noqa: F401


@pytest.fixture(autouse=True)
def ledger_agrees_after_each_test(request):
    """After every test here, each balance equals the sum of its ledger rows and every
    transfer line agrees with its movements: what `manage.py verify_ledger` checks."""
    yield
    if "django_db" in request.keywords:
        from stock.selectors import ledger_report

        report = ledger_report()
        assert report.differences == [], report.differences
        assert report.problems == [], [str(problem) for problem in report.problems]
