"""Settings read from the environment are checked at start-up, naming the variable.

Mostly the connectors' schedule; also the hold expiry's worker count.
"""

import subprocess
import sys

import pytest

from tests.inventory_hub.hub_process import REPO, hub_env

LOAD = (
    "import django; django.setup(); from django.conf import settings; "
    "schedule = settings.CELERY_BEAT_SCHEDULE; "
    "print(schedule['connectors-watch-webhooks']['schedule'], "
    "sorted(schedule['connectors-reconcile-nightly']['schedule'].hour))"
)


def load_settings(**environment: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", LOAD],
        cwd=REPO,
        env=hub_env(**environment),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        (
            {"CONNECTORS_RECONCILE_HOUR": "24"},
            "CONNECTORS_RECONCILE_HOUR must be an hour from 0 to 23 (UTC), got 24",
        ),
        (
            {"CONNECTORS_RECONCILE_HOUR": "-1"},
            "CONNECTORS_RECONCILE_HOUR must be an hour from 0 to 23 (UTC), got -1",
        ),
        (
            {"CONNECTORS_WATCHDOG_SECONDS": "0"},
            "CONNECTORS_WATCHDOG_SECONDS must be at least 1 (seconds), got 0",
        ),
        (
            {"CONNECTORS_WATCHDOG_SECONDS": "-5"},
            "CONNECTORS_WATCHDOG_SECONDS must be at least 1 (seconds), got -5",
        ),
    ],
    ids=["hour-24", "hour-negative", "watchdog-zero", "watchdog-negative"],
)
def test_out_of_range_connector_settings_stop_start_up_naming_the_variable(environment, message):
    result = load_settings(**environment)

    assert result.returncode == 1
    assert f"django.core.exceptions.ImproperlyConfigured: {message}" in result.stderr


@pytest.mark.parametrize("workers", ["0", "-2"])
def test_fewer_than_one_hold_expiry_worker_stops_start_up_naming_the_variable(workers):
    result = load_settings(HOLD_EXPIRY_WORKERS=workers)

    assert result.returncode == 1
    assert (
        "django.core.exceptions.ImproperlyConfigured: "
        f"HOLD_EXPIRY_WORKERS must be at least 1, got {workers}"
    ) in result.stderr


def test_connector_settings_in_range_are_used():
    result = load_settings(CONNECTORS_RECONCILE_HOUR="23", CONNECTORS_WATCHDOG_SECONDS="1")

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1.0", "[23]"]
