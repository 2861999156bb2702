import pytest


@pytest.fixture(autouse=True)
def ledger_agrees_after_each_test(request, verify_ledger_clean):
    """After every test here, each balance equals the sum of its ledger rows."""
    yield
    if "django_db" in request.keywords:
        verify_ledger_clean()
