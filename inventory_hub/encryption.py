"""Secrets encrypted at rest: model fields whose column holds a Fernet token, never the value.

Keys come from `HUB_SECRET_KEYS` (comma-separated Fernet keys): the first encrypts, every
one decrypts, so a new key is put first, `manage.py rotate_secret_keys` re-encrypts every
value with it, and the old key is then dropped. With no key set (local runs and tests) one
key is derived from SECRET_KEY, so `make run` needs no setup; production settings refuse to
start without `HUB_SECRET_KEYS` (docs/adr/0004-secrets-encrypted-at-rest.md).

An empty value is stored empty, so "is a secret set" stays answerable (and filterable)
without a key. Lookups other than equality with "" cannot work on ciphertext.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django import forms
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

# Fixed, so the derived key stays the same as long as SECRET_KEY does.
_DERIVATION_CONTEXT = b"inventory-hub:secrets-at-rest:v1:"


class SecretKeyError(ImproperlyConfigured):
    """No key in HUB_SECRET_KEYS decrypts a stored secret (never says which value)."""


def derived_key(secret_key: str) -> str:
    """The Fernet key used when HUB_SECRET_KEYS is unset: SHA-256 of SECRET_KEY in context."""
    digest = hashlib.sha256(_DERIVATION_CONTEXT + secret_key.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


def configured_keys() -> tuple[str, ...]:
    keys = tuple(getattr(settings, "HUB_SECRET_KEYS", ()) or ())
    return keys or (derived_key(settings.SECRET_KEY),)


def check_keys(keys: list[str] | tuple[str, ...], *, setting: str = "HUB_SECRET_KEYS") -> None:
    """Raise ImproperlyConfigured naming the setting (not the key) when a key is malformed."""
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise ImproperlyConfigured(
                f"{setting}: key {position} is not a Fernet key (32 url-safe base64-encoded "
                "bytes; make one with `manage.py rotate_secret_keys --new-key`)."
            ) from None


@functools.lru_cache(maxsize=4)
def _cipher(keys: tuple[str, ...]) -> MultiFernet:
    check_keys(keys)
    return MultiFernet([Fernet(key) for key in keys])


def cipher() -> MultiFernet:
    """The process's MultiFernet for the configured keys (built once per key set)."""
    return _cipher(configured_keys())


def encrypt_text(value: str) -> str:
    if value == "":
        return ""
    return cipher().encrypt(value.encode()).decode("ascii")


def decrypt_text(token: str) -> str:
    if token == "":
        return ""
    try:
        return cipher().decrypt(token.encode("ascii")).decode()
    except (InvalidToken, UnicodeEncodeError):
        raise SecretKeyError(
            "A stored secret cannot be decrypted with any key in HUB_SECRET_KEYS "
            "(was a key dropped before `manage.py rotate_secret_keys` ran?)."
        ) from None


def is_token(value: str) -> bool:
    """Whether `value` is empty or a token some configured key decrypts."""
    try:
        decrypt_text(value)
    except SecretKeyError:
        return False
    return True


class EncryptedTextField(models.TextField):
    """Text stored as a Fernet token; reads decrypt, writes encrypt with the first key."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if value is None:
            return None
        return decrypt_text(value)

    def get_prep_value(self, value: Any) -> str | None:
        value = super().get_prep_value(value)
        if value is None:
            return None
        return encrypt_text(value)


class EncryptedJSONField(models.TextField):
    """A JSON value stored as the Fernet token of its text; reads give the value back."""

    # For django-stubs: the attribute holds any JSON value, not the text TextField declares
    # (annotations only, nothing at runtime; the stubs read these two names).
    _pyi_private_set_type: Any
    _pyi_private_get_type: Any

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return None if value is None else self.get_default()
        return json.loads(decrypt_text(value))

    def to_python(self, value: Any) -> Any:
        return value

    def get_prep_value(self, value: Any) -> str | None:
        if value is None:
            return None
        return encrypt_text(json.dumps(value, separators=(",", ":")))

    def value_to_string(self, obj: models.Model) -> str:
        return json.dumps(self.value_from_object(obj))

    def formfield(
        self,
        form_class: type[forms.Field] | None = None,
        choices_form_class: type[forms.ChoiceField] | None = None,
        **kwargs: Any,
    ) -> forms.Field | None:
        return super().formfield(
            form_class=forms.JSONField if form_class is None else form_class,
            choices_form_class=choices_form_class,
            **kwargs,
        )
