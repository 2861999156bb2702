"""The push engine's tunables: defaults here, overrides from `settings.CONNECTORS_PUSH`."""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields, replace
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PushSettings:
    batch_size: int = 100
    failures_to_open: int = 5
    breaker_cooldown_seconds: float = 5.0
    breaker_max_cooldown_seconds: float = 300.0
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 300.0
    max_item_attempts: int = 10
    default_retry_after_seconds: float = 30.0
    max_retry_after_seconds: float = 3600.0
    lease_seconds: float | None = None  # None: from the connector's timeout
    time_budget_seconds: float = 50.0


def push_settings() -> PushSettings:
    """`settings.CONNECTORS_PUSH` (a dict) overrides the defaults field by field."""
    overrides: dict[str, Any] = settings.CONNECTORS_PUSH or {}  # checked by name below
    known = {item.name for item in fields(PushSettings)}
    return replace(PushSettings(), **{k: v for k, v in overrides.items() if k in known})
