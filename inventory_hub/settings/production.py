"""Production settings: refuse to start with an unsafe configuration."""

from django.core.exceptions import ImproperlyConfigured

from inventory_hub.encryption import check_keys

from .base import *  # noqa: F403
from .base import DEBUG, INSECURE_DEFAULT_SECRET_KEY, SECRET_KEY
from .env import env_bool, env_int

if SECRET_KEY == INSECURE_DEFAULT_SECRET_KEY or len(SECRET_KEY) < 32:
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a random value of at least 32 characters in production."
    )
if DEBUG:
    raise ImproperlyConfigured("DEBUG must be off in production.")

SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Static files are collected at deploy time (`manage.py collectstatic`) and served by
# WhiteNoise with hashed names, so browsers may cache them forever.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Security: secrets at rest, HTTPS -----------------------------------------------------
if not HUB_SECRET_KEYS:  # noqa: F405
    raise ImproperlyConfigured(
        "HUB_SECRET_KEYS must be set in production: comma-separated Fernet keys that "
        "encrypt connector secrets (README, Configuration)."
    )
check_keys(HUB_SECRET_KEYS)  # noqa: F405

# HTTPS is usually ended at a proxy that sends X-Forwarded-Proto (SECURE_PROXY_SSL_HEADER
# above), so the hub redirects plain HTTP itself unless that proxy already does.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
# /healthz answers load balancers that probe over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
# HSTS: one year once the hub is known to be served only over HTTPS; 0 switches it off
# (check --deploy then warns, on purpose).
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
