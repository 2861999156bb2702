"""Settings shared by every environment. Configuration comes only from the environment."""

from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from .env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

# Only for local use; production.py refuses to start with it.
INSECURE_DEFAULT_SECRET_KEY = "insecure-local-development-key-do-not-use-in-production"
SECRET_KEY = env_str("SECRET_KEY", INSECURE_DEFAULT_SECRET_KEY)
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
PORT = env_int("PORT", 8000)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "django_htmx",
    "inventory_hub",
    "warehouses",
    "stock",
    "transfers",
    "alerts",
    "suggestions",
    "connectors",
    # The top layer: demo data and simulated traffic; no app imports it.
    "demo",
]

MIDDLEWARE = [
    "inventory_hub.api.errors.ApiErrorShapeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "inventory_hub.outages.DatabaseOutageMiddleware",
]

ROOT_URLCONF = "inventory_hub.urls"
ASGI_APPLICATION = "inventory_hub.asgi.application"
WSGI_APPLICATION = "inventory_hub.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
# DATABASE_URL unset: a SQLite file under var/ so that `make run` needs no server.
VAR_DIR.mkdir(exist_ok=True)
DATABASE_URL = env_str("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            # A str, as dj_database_url's DBConfig (the type of DATABASES) has it.
            "NAME": str(VAR_DIR / "inventory_hub.sqlite3"),
        }
    }
# The only prepared statements are the engine's hot ones (inventory_hub/db.py,
# `hot_cursor`): their generic plan is as good as a fresh one and saves planning each time.
POSTGRES_SESSION_OPTIONS = {"options": "-c plan_cache_mode=force_generic_plan"}
# A connection pool per process (psycopg_pool). Under ASGI every request's sync code may
# run on a fresh thread, and with persistent per-thread connections one busy web process
# held 57 connections and hit PostgreSQL's limit; without persistence each request paid a
# new backend. The pool reuses a few connections across threads. 0 turns it off.
DATABASE_POOL_SIZE = env_int("DATABASE_POOL_SIZE", 10)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {}).update(POSTGRES_SESSION_OPTIONS)
    if DATABASE_POOL_SIZE > 0:
        DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps connections, not Django
        DATABASES["default"]["OPTIONS"]["pool"] = {
            "min_size": 1,
            "max_size": DATABASE_POOL_SIZE,
            "timeout": 10,
        }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets the dashboard read while the in-process worker writes.
        "init_command": "PRAGMA journal_mode=WAL;",
        # A deferred transaction that reads and then writes fails at once with "database is
        # locked" when another thread wrote meanwhile; IMMEDIATE takes the write lock at
        # BEGIN, so writers queue for up to `timeout` seconds instead.
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Services own their transactions (STYLE.md): requests are not wrapped.
ATOMIC_REQUESTS = False

# --- Redis: channel layer, cache, Celery broker -----------------------------------------
# Seconds to wait for Redis to accept a connection: a dead Redis is reported, not waited on.
REDIS_CONNECT_TIMEOUT = 2
REDIS_URL = env_str("REDIS_URL", "")
# The in-process broker of embedded mode and of the tests. The host only silences kombu's
# "no hostname supplied" warning on every connection. The memory transport polls; at its
# default of once a second every task would wait up to 1 s before a worker saw it.
MEMORY_BROKER_URL = "memory://localhost/"
MEMORY_BROKER_TRANSPORT_OPTIONS = {"polling_interval": 0.1}
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_connect_timeout": REDIS_CONNECT_TIMEOUT}]
            },
        }
    }
    CACHES = {
        "default": {
            # Fails open: with Redis down the hub answers uncached and unthrottled.
            "BACKEND": "inventory_hub.cache.FailOpenRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "hub",
            "OPTIONS": {
                "socket_connect_timeout": REDIS_CONNECT_TIMEOUT,
                "socket_timeout": REDIS_CONNECT_TIMEOUT,
            },
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, float] = {
        # With acks_late a task is redelivered when it is not acknowledged within this many
        # seconds: it must exceed the longest task and the longest countdown/ETA we use.
        "visibility_timeout": 3600,
        "socket_connect_timeout": REDIS_CONNECT_TIMEOUT,
    }
    # Embedded mode is off: worker and beat run as their own processes (Procfile).
    HUB_EMBEDDED_WORKER = False
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "inventory_hub.embedded.EmbeddedChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CELERY_BROKER_URL = MEMORY_BROKER_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = MEMORY_BROKER_TRANSPORT_OPTIONS
    # The ASGI runner starts a Celery worker (with beat) inside its own process.
    HUB_EMBEDDED_WORKER = True

CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A task cut off by a lost broker connection is redelivered (acks_late), so finishing it
# as well would run it twice.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# Workers started before Redis keep retrying instead of exiting (explicit: Celery 6 changes
# the default's source).
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
# The worker writes a heartbeat every HUB_HEARTBEAT_SECONDS; /healthz reads it.
HUB_HEARTBEAT_SECONDS = env_int("HUB_HEARTBEAT_SECONDS", 15)
# `runhub` restarts a dead worker or beat after HUB_RESTART_BACKOFF_SECONDS, doubling up to
# 60 s while it keeps dying within HUB_QUICK_DEATH_SECONDS of its start; after
# HUB_RESTART_LIMIT such quick deaths in a row it stops the hub (a crash loop needs a human).
HUB_RESTART_BACKOFF_SECONDS = env_int("HUB_RESTART_BACKOFF_SECONDS", 1)
HUB_QUICK_DEATH_SECONDS = env_int("HUB_QUICK_DEATH_SECONDS", 30)
HUB_RESTART_LIMIT = env_int("HUB_RESTART_LIMIT", 5)
# Where a stand-alone beat (Procfile) remembers when each periodic task last ran.
CELERY_BEAT_SCHEDULE_FILENAME = env_str(
    "HUB_BEAT_SCHEDULE_FILE", str(VAR_DIR / "celerybeat-schedule")
)
# Checked here: Celery's own error for a bad hour does not name the variable.
CONNECTORS_WATCHDOG_SECONDS = env_int("CONNECTORS_WATCHDOG_SECONDS", 600)
if CONNECTORS_WATCHDOG_SECONDS < 1:
    raise ImproperlyConfigured(
        "CONNECTORS_WATCHDOG_SECONDS must be at least 1 (seconds), "
        f"got {CONNECTORS_WATCHDOG_SECONDS}"
    )
CONNECTORS_RECONCILE_HOUR = env_int("CONNECTORS_RECONCILE_HOUR", 3)
if not 0 <= CONNECTORS_RECONCILE_HOUR <= 23:
    raise ImproperlyConfigured(
        "CONNECTORS_RECONCILE_HOUR must be an hour from 0 to 23 (UTC), "
        f"got {CONNECTORS_RECONCILE_HOUR}"
    )
# How often beat looks for due order polls, and how far each re-reads before its cursor.
CONNECTORS_ORDER_POLL_SWEEP_SECONDS = env_int("CONNECTORS_ORDER_POLL_SWEEP_SECONDS", 1)
CONNECTORS_ORDER_POLL_OVERLAP_SECONDS = env_int("CONNECTORS_ORDER_POLL_OVERLAP_SECONDS", 5)
if CONNECTORS_ORDER_POLL_SWEEP_SECONDS < 1:
    raise ImproperlyConfigured(
        "CONNECTORS_ORDER_POLL_SWEEP_SECONDS must be at least 1 (seconds), "
        f"got {CONNECTORS_ORDER_POLL_SWEEP_SECONDS}"
    )
from .alerts import *  # noqa: E402, F403  (the alerts app's settings)
from .alerts import ALERTS_FLUSH_SWEEP_SECONDS, ALERTS_SWEEP_SECONDS  # noqa: E402
from .suggestions import *  # noqa: E402, F403  (the suggestions app's settings and beat)

CELERY_BEAT_SCHEDULE = SUGGESTIONS_BEAT_SCHEDULE | {  # noqa: F405
    "worker-heartbeat": {
        "task": "inventory_hub.tasks.heartbeat_task",
        "schedule": float(HUB_HEARTBEAT_SECONDS),
    },
    "daily-stock-snapshot": {
        "task": "stock.tasks.snapshot_stock_task",
        "schedule": 3600.0,  # idempotent: rewrites today's closing figures each hour
    },
    "release-expired-holds": {
        "task": "stock.tasks.release_expired_holds_task",
        "schedule": 60.0,
    },
    "purge-idempotency-keys": {
        "task": "inventory_hub.tasks.purge_idempotency_keys_task",
        "schedule": 3600.0,
    },
    # Connectors: resume pushes (after a pause, a breaker cool-down or a lost kick) and
    # retry inbox events whose backoff has passed.
    "connectors-sweep-outbox": {
        "task": "connectors.tasks.sweep_outbox_task",
        "schedule": 5.0,
    },
    "connectors-sweep-inbox": {
        "task": "connectors.tasks.sweep_inbox_task",
        "schedule": 10.0,
    },
    "connectors-purge-history": {
        "task": "connectors.tasks.purge_connector_history_task",
        "schedule": 3600.0,
    },
    # Transfers: instructions to warehouses' own systems whose backoff or lease has passed.
    "transfers-sweep-instructions": {
        "task": "transfers.tasks.sweep_instructions_task",
        "schedule": 5.0,
    },
    # Connectors' sync features: poll the connectors whose interval has passed, check
    # WooCommerce webhooks, reconcile every store each night.
    "connectors-sweep-polls": {
        "task": "connectors.sync.tasks.sweep_polls_task",
        "schedule": 15.0,
    },
    # Stores that ask for it (option order_poll_interval_seconds) have their orders read
    # every few seconds: this sweep is one indexed query when nothing is due.
    "connectors-sweep-order-polls": {
        "task": "connectors.sync.tasks.sweep_order_polls_task",
        "schedule": float(CONNECTORS_ORDER_POLL_SWEEP_SECONDS),
    },
    "connectors-watch-webhooks": {
        "task": "connectors.sync.tasks.watch_webhooks_task",
        "schedule": float(CONNECTORS_WATCHDOG_SECONDS),
    },
    # Alerts: pending durations, time-based conditions, and the safety net for lost kicks.
    "alerts-sweep": {
        "task": "alerts.tasks.sweep_task",
        "schedule": float(ALERTS_SWEEP_SECONDS),
    },
    "connectors-reconcile-nightly": {
        "task": "connectors.sync.tasks.reconcile_all_task",
        "schedule": crontab(hour=CONNECTORS_RECONCILE_HOUR, minute=0),
    },
    # Alerts: due groups (a lost eta task, repeats), due notifications, escalation steps.
    "alerts-flush-groups": {
        "task": "alerts.notifications_tasks.flush_due_groups_task",
        "schedule": float(ALERTS_FLUSH_SWEEP_SECONDS),
    },
    "alerts-sweep-notifications": {
        "task": "alerts.notifications_tasks.sweep_notifications_task",
        "schedule": 5.0,
    },
    "alerts-escalate": {
        "task": "alerts.notifications_tasks.escalate_task",
        "schedule": 30.0,
    },
}
# The hub's public address (https://hub.example.com), for the webhooks it registers on
# stores; a real WooCommerce delivers only to public hosts on ports 80, 443 or 8080.
HUB_PUBLIC_BASE_URL = env_str("HUB_PUBLIC_BASE_URL", "")
# Store webhooks' common case is answered in front of Django (connectors/fast_inbound.py).
CONNECTORS_FAST_INBOUND = env_bool("CONNECTORS_FAST_INBOUND", True)


def _env_seconds(name: str, default: float) -> float:
    raw = env_str(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a number of seconds, got {raw!r}") from exc


# The fast path's own connections per server process, and how long it trusts a connector's
# settings read from the database before reading them again.
CONNECTORS_FAST_INBOUND_CONNECTIONS = env_int("CONNECTORS_FAST_INBOUND_CONNECTIONS", 4)
CONNECTORS_INBOUND_CACHE_SECONDS = _env_seconds("CONNECTORS_INBOUND_CACHE_SECONDS", 5.0)
# Inbox processing: a transiently failing delivery retries after BACKOFF seconds, doubling,
# and is a dead letter after MAX_ATTEMPTS attempts.
CONNECTORS_INBOX_MAX_ATTEMPTS = env_int("CONNECTORS_INBOX_MAX_ATTEMPTS", 8)
CONNECTORS_INBOX_BACKOFF_SECONDS = _env_seconds("CONNECTORS_INBOX_BACKOFF_SECONDS", 2.0)
# A store's figure risen above the hub's while the store's own orders could explain it (a
# cancellation whose order event is on its way) is overwritten after this grace.
CONNECTORS_STORE_RISE_GRACE_SECONDS = _env_seconds("CONNECTORS_STORE_RISE_GRACE_SECONDS", 2.0)
# At most one push (or inbox drain) message per connector per interval from each process.
CONNECTORS_KICK_INTERVAL_SECONDS = _env_seconds("CONNECTORS_KICK_INTERVAL_SECONDS", 0.1)
# How long a process trusts its knowledge that no connector maps anything (connectors.outbox).
CONNECTORS_MAPPING_CHECK_SECONDS = _env_seconds("CONNECTORS_MAPPING_CHECK_SECONDS", 5.0)
# How far a stock poll re-reads before its cursor (store clocks and slow writes).
CONNECTORS_POLL_OVERLAP_SECONDS = _env_seconds("CONNECTORS_POLL_OVERLAP_SECONDS", 120.0)
# Overrides of the push engine's tuning (connectors.engine.push.PushSettings), by field name.
CONNECTORS_PUSH: dict[str, object] = {}

# Connections that clear a backlog of expired holds together (stock.services.orders): a
# batch locks levels only for its ledger rows and balances, so two overlap well on two cores.
HOLD_EXPIRY_WORKERS = env_int("HOLD_EXPIRY_WORKERS", 2)
if HOLD_EXPIRY_WORKERS < 1:
    raise ImproperlyConfigured(f"HOLD_EXPIRY_WORKERS must be at least 1, got {HOLD_EXPIRY_WORKERS}")

# Allocation of the last shared units (stock/allocation.py): a channel's orders of the last
# CLAIM minutes count as taken from its share (longer than the slowest store's notice
# window); the shares are weighed by its orders in the WEIGHT days before that.
STOCK_ALLOCATION_CLAIM_MINUTES = env_int("STOCK_ALLOCATION_CLAIM_MINUTES", 10)
STOCK_ALLOCATION_WEIGHT_DAYS = env_int("STOCK_ALLOCATION_WEIGHT_DAYS", 7)

# Storefront availability answers are cached this long (invalidated on every change).
AVAILABILITY_CACHE_SECONDS = env_int("AVAILABILITY_CACHE_SECONDS", 5)
# After-commit reactions (cache invalidation, channel-layer pushes) run on a publisher
# thread, so a writer never waits for them (stock/events.py).
HUB_PUBLISH_IN_BACKGROUND = env_bool("HUB_PUBLISH_IN_BACKGROUND", True)
# The engine's hot statements are prepared once per connection (inventory_hub/db.py);
# off for a transaction-pooling PgBouncer older than 1.21.
HUB_PREPARED_STATEMENTS = env_bool("HUB_PREPARED_STATEMENTS", True)

# --- Auth, i18n, static ------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/admin/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"

# --- Email ---------------------------------------------------------------------------------
# EMAIL_HOST unset: mail is printed to the console instead of sent.
EMAIL_HOST = env_str("EMAIL_HOST", "")
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "inventory-hub@localhost")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["warehouses.api.permissions.ReadAnyRoleWriteOps"],
    "DEFAULT_PARSER_CLASSES": ["inventory_hub.api.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "inventory_hub.api.pagination.PagePagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "inventory_hub.api.errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "inventory_hub.api.throttling.TokenRateThrottle",
        "inventory_hub.api.throttling.AnonymousRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "token": env_str("API_THROTTLE_RATE", "1200/min"),
        "anonymous": env_str("API_ANON_THROTTLE_RATE", "600/min"),
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Inventory Hub API",
    "DESCRIPTION": (
        "Stock across warehouses and sales channels: catalogue, stock levels and the "
        "ledger, adjustments, orders and reservations, storefront availability, bulk stock. "
        'Errors always have the shape {"error": {"code", "message", "details"}}.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    # No online validator: Swagger UI would otherwise send our schema's URL to swagger.io.
    "SWAGGER_UI_SETTINGS": {"validatorUrl": None},
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a "status" or "kind": name each enum after its model.
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "stock.models.orders.OrderStatus",
        "OrderLineStatusEnum": "stock.models.orders.OrderLine.Status",
        "AllocationStatusEnum": "stock.models.orders.Allocation.Status",
        "StorefrontStatusEnum": "stock.api.serializers.availability.STOREFRONT_STATUSES",
        "SalesChannelKindEnum": "warehouses.models.SalesChannel.Kind",
        "MovementKindEnum": "stock.models.MovementKind",
        "ConnectorKindEnum": "connectors.models.ConnectorKind",
        "TransferStateEnum": "transfers.models.TransferState",
        "AlertStateEnum": "alerts.models.AlertState",
        "ReceiverKindEnum": "alerts.models.ReceiverKind",
        "NotificationKindEnum": "alerts.models.NotificationKind",
        "NotificationStatusEnum": "alerts.models.NotificationStatus",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "inventory_hub.api.schema.refuse_unknown_fields",
        "inventory_hub.api.schema.document_list_minimums",
        "inventory_hub.api.schema.document_exclusive_fields",
        "inventory_hub.api.schema.document_query_minimums",
        "inventory_hub.api.schema.document_text_without_nul",
    ],
}
# Idempotency-Key answers are kept at least this long.
IDEMPOTENCY_KEY_HOURS = env_int("IDEMPOTENCY_KEY_HOURS", 24)

LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "celery": {"level": "WARNING"},
        # Django's default config gives "django" a console handler of its own (DEBUG only);
        # without this every request error is printed twice.
        "django": {"handlers": [], "level": "INFO"},
        # At DEBUG urllib3 logs every request URL, query string included, where some stores
        # take their API keys (WooCommerce's OAuth 1.0a and query authentication).
        "urllib3": {"level": "INFO"},
    },
}

# --- Security: secrets at rest, login throttling -----------------------------------------
# Fernet keys for connector credentials and webhook secrets (inventory_hub/encryption.py):
# the first encrypts, all decrypt. Unset: one key derived from SECRET_KEY (local runs only;
# production.py refuses to start without it).
HUB_SECRET_KEYS = env_list("HUB_SECRET_KEYS", [])

# Failed logins on the admin and the dashboard (django-axes): after AXES_FAILURE_LIMIT
# failures for one username from one address, that pair is refused (429) for the cool-off.
# Attempts live in the database, so every process, SQLite or PostgreSQL, sees the same count.
INSTALLED_APPS = [*INSTALLED_APPS, "axes"]
# Last, as django-axes asks: it answers the lockout for a login view's refused response.
MIDDLEWARE = [*MIDDLEWARE, "axes.middleware.AxesMiddleware"]
AUTHENTICATION_BACKENDS = [
    "inventory_hub.auth.LoginThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_MINUTES = env_int("AXES_COOLOFF_MINUTES", 15)
if AXES_FAILURE_LIMIT < 1 or AXES_COOLOFF_MINUTES < 1:
    raise ImproperlyConfigured("AXES_FAILURE_LIMIT and AXES_COOLOFF_MINUTES must be at least 1")
AXES_COOLOFF_TIME = timedelta(minutes=AXES_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "axes/lockout.html"
# The client address is REMOTE_ADDR: behind a proxy the server sets it from the proxy's
# header (uvicorn --forwarded-allow-ips), so a client cannot pick its own address.
AXES_IPWARE_META_PRECEDENCE_ORDER = ["REMOTE_ADDR"]
# Lockouts are warnings; each login's "reset 0 attempts" is not worth a line.
LOGGING["loggers"]["axes"] = {"level": "WARNING"}
