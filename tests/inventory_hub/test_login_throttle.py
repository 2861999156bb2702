"""Failed logins on the admin and the dashboard are throttled per username and address
(django-axes): the AXES_FAILURE_LIMIT-th failure locks, and every attempt after it, even
with the right password, is refused with a clear message until the cool-off has passed;
another address is not.

Attempts are rows in the test's database, so each test starts with none (rolled back, or
flushed after a transactional test): tests cannot lock each other out.
"""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.test import Client

pytestmark = pytest.mark.django_db

PASSWORD = "the-right-password"
ADMIN_LOGIN = "/admin/login/"
DASHBOARD_LOGIN = "/login/"


@pytest.fixture
def staff():
    return get_user_model().objects.create_user(
        username="alice", password=PASSWORD, is_staff=True, is_superuser=True
    )


def attempt(path: str, password: str, *, address: str = "203.0.113.5", username="alice"):
    browser = Client(REMOTE_ADDR=address)
    return browser.post(path, {"username": username, "password": password, "next": "/"})


def logged_in(response) -> bool:
    return response.status_code == 302


@pytest.mark.parametrize("path", [ADMIN_LOGIN, DASHBOARD_LOGIN], ids=["admin", "dashboard"])
def test_five_failures_lock_that_username_at_that_address_with_a_clear_message(
    staff, settings, path
):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert attempt(path, "wrong").status_code == 200  # the form again, with its error
    assert attempt(path, "wrong").status_code == 429  # the last one allowed locks

    locked = attempt(path, PASSWORD)

    assert locked.status_code == 429
    text = locked.content.decode()
    assert "Too many failed sign-ins" in text
    assert f"Try again in {settings.AXES_COOLOFF_MINUTES} minutes" in text
    assert logged_in(attempt(path, PASSWORD, address="198.51.100.7"))  # another address


def test_the_lockout_ends_after_the_cool_off(staff, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt(ADMIN_LOGIN, "wrong")
    assert attempt(ADMIN_LOGIN, PASSWORD).status_code == 429

    earlier = timedelta(minutes=settings.AXES_COOLOFF_MINUTES, seconds=1)
    for row in AccessAttempt.objects.all():
        AccessAttempt.objects.filter(pk=row.pk).update(attempt_time=row.attempt_time - earlier)

    assert logged_in(attempt(ADMIN_LOGIN, PASSWORD))


def test_a_success_before_the_limit_forgets_the_failures(staff, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        attempt(ADMIN_LOGIN, "wrong")
    assert logged_in(attempt(ADMIN_LOGIN, PASSWORD))

    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        attempt(ADMIN_LOGIN, "wrong")

    assert logged_in(attempt(ADMIN_LOGIN, PASSWORD))


def test_each_test_starts_with_no_failed_attempts():
    assert not AccessAttempt.objects.exists()
