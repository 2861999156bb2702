"""Connector options as shown to users below ops staff: whatever may carry a secret masked.

Options are settings, not secrets, but a partner's `feed_url` or `push_url` often carries
an API key in its query string (or user:password in its authority), and a store class may
take a token-like option. Below ops staff (warehouse managers, viewers, integrations) the
API and the admin show such values masked; ops staff see them whole.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from warehouses.access import Capability, may

HIDDEN = "(hidden)"
# Option names that say the value is a credential.
_SECRET_WORDS = ("secret", "token", "password", "passwd", "apikey", "api_key", "auth")


def sees_secret_options(user: AbstractBaseUser | AnonymousUser) -> bool:
    return may(user, Capability.SEE_SECRET_OPTIONS)


def masked_options(options: Any) -> Any:
    """`options` with secret-named values hidden and URLs stripped of query and user info."""
    if isinstance(options, dict):
        return {key: _masked_value(str(key), value) for key, value in options.items()}
    if isinstance(options, list):
        return [masked_options(value) for value in options]
    if isinstance(options, str) and "://" in options:
        return masked_url(options)
    return options


def _masked_value(key: str, value: Any) -> Any:
    if _names_a_secret(key) and value:
        return HIDDEN
    if isinstance(value, str) and key.lower().endswith("url"):
        return masked_url(value)  # relative URLs too ("/feed.csv?key=…")
    return masked_options(value)


def _names_a_secret(key: str) -> bool:
    lowered = key.lower()
    return any(word in lowered for word in _SECRET_WORDS) or lowered.endswith("_key")


def masked_url(url: str) -> str:
    """`url` without its query (shown as hidden), fragment and user info."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return HIDDEN
    netloc = f"{host}:{port}" if port else host
    query = HIDDEN if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
