import subprocess
import sys

import pytest

from tests.inventory_hub.hub_process import REPO, hub_env

GOOD_SECRET_KEY = "k3y-for-tests-only-" + "x" * 40
LOAD = (
    "import django; django.setup(); from django.conf import settings; "
    "print(settings.DEBUG, settings.STORAGES['staticfiles']['BACKEND'])"
)


def load_production_settings(**environment: str) -> subprocess.CompletedProcess:
    env = hub_env(DJANGO_SETTINGS_MODULE="inventory_hub.settings.production", **environment)
    return subprocess.run(
        [sys.executable, "-c", LOAD], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({}, "SECRET_KEY must be set to a random value of at least 32 characters in production."),
        (
            {"SECRET_KEY": "insecure-local-development-key-do-not-use-in-production"},
            "SECRET_KEY must be set to a random value of at least 32 characters in production.",
        ),
        (
            {"SECRET_KEY": "short"},
            "SECRET_KEY must be set to a random value of at least 32 characters in production.",
        ),
        ({"SECRET_KEY": GOOD_SECRET_KEY, "DEBUG": "1"}, "DEBUG must be off in production."),
        ({"SECRET_KEY": GOOD_SECRET_KEY, "DEBUG": "true"}, "DEBUG must be off in production."),
        (
            {"SECRET_KEY": GOOD_SECRET_KEY, "DEBUG": "maybe"},
            "DEBUG must be a boolean (1/0, true/false), got 'maybe'",
        ),
    ],
    ids=["no-key", "default-key", "short-key", "debug-1", "debug-true", "debug-not-a-boolean"],
)
def test_production_settings_refuse_an_unsafe_environment(environment, message):
    result = load_production_settings(**environment)

    assert result.returncode == 1
    assert f"django.core.exceptions.ImproperlyConfigured: {message}" in result.stderr


def test_production_settings_load_with_a_real_key_and_debug_off():
    result = load_production_settings(SECRET_KEY=GOOD_SECRET_KEY, DEBUG="0")

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "False",
        "whitenoise.storage.CompressedManifestStaticFilesStorage",
    ]


@pytest.mark.parametrize(
    "module", ["inventory_hub.asgi", "inventory_hub.wsgi", "inventory_hub.celery"]
)
def test_an_app_server_or_celery_started_without_a_settings_module_gets_production(module):
    env = hub_env(SECRET_KEY=GOOD_SECRET_KEY)
    del env["DJANGO_SETTINGS_MODULE"]
    load = f"import {module}; from django.conf import settings; print(settings.SETTINGS_MODULE)"

    result = subprocess.run(
        [sys.executable, "-c", load], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["inventory_hub.settings.production"]
