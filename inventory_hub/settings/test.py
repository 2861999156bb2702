"""Settings for pytest: PostgreSQL and Redis when they answer, embedded defaults otherwise.

DATABASE_URL / REDIS_URL win; unset, the suite looks for the machine's own servers at
127.0.0.1. Tests that need PostgreSQL row locks are marked `postgres` and skip, saying why,
when the database is SQLite (see tests/conftest.py).
"""

import os
import socket

import dj_database_url

from .base import *  # noqa: F403


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


_database_url = os.environ.get("DATABASE_URL", "")
if not _database_url and _answers("127.0.0.1", 5432):
    _database_url = "postgres://postgres@127.0.0.1:5432/inventory_hub"
if _database_url:
    DATABASES = {"default": dj_database_url.parse(_database_url)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"]["OPTIONS"] = dict(POSTGRES_SESSION_OPTIONS)  # noqa: F405
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}

TEST_REDIS_URL = os.environ.get("REDIS_URL", "") or (
    "redis://127.0.0.1:6379/0" if _answers("127.0.0.1", 6379) else ""
)

# Unit tests use the in-memory layer and cache; tests whose subject is Redis opt in to it.
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Workers in tests use the memory broker, with its own transport options: base.py chose
# Redis's when REDIS_URL is set, and with those the memory transport polls once a second.
CELERY_BROKER_URL = MEMORY_BROKER_URL  # noqa: F405
CELERY_BROKER_TRANSPORT_OPTIONS = MEMORY_BROKER_TRANSPORT_OPTIONS  # noqa: F405
# Reactions run in the committing thread, so a test sees them as soon as the service returns.
HUB_PUBLISH_IN_BACKGROUND = False
CELERY_TASK_ALWAYS_EAGER = False
HUB_EMBEDDED_WORKER = False

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
