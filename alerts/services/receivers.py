"""Configuration of notifications through services, for the admin, the API and the pages:
receivers (checked per kind, secrets encrypted at rest), routes, escalation steps, and a
test message through the same delivery path as any other."""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import uuid
from collections.abc import Mapping
from urllib.parse import urlsplit

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from alerts.errors import InvalidEscalationStep, InvalidReceiver, InvalidRoute
from alerts.models import (
    EscalationStep,
    Notification,
    NotificationKind,
    Receiver,
    ReceiverKind,
    Route,
    Severity,
)
from stock.actors import Actor

from .delivery import queue_notification
from .silences import checked_matchers

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
GROUP_BY_LABEL = re.compile(r"^[a-z][a-z0-9_]{0,30}$")
CONFIG_KEYS: dict[str, frozenset[str]] = {
    ReceiverKind.EMAIL: frozenset({"addresses", "users", "groups"}),
    ReceiverKind.SLACK: frozenset(),
    ReceiverKind.WEBHOOK: frozenset({"url"}),
    ReceiverKind.SMS: frozenset({"numbers"}),
    ReceiverKind.VOICE: frozenset({"numbers"}),
    ReceiverKind.DASHBOARD: frozenset(),
}
MAX_LIST = 50
MAX_WAIT_SECONDS = 24 * 3600


def generate_webhook_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def save_receiver(
    *,
    name: str,
    kind: str,
    config: Mapping[str, object] | None = None,
    secret: str | None = None,
    send_resolved: bool = True,
    is_active: bool = True,
    receiver: Receiver | None = None,
) -> Receiver:
    """Create or change a receiver, all or nothing. `secret` None keeps the stored one; a
    new signed webhook without one gets a fresh `whsec_` secret."""
    if kind not in ReceiverKind.values:
        raise InvalidReceiver(
            f"kind must be one of {', '.join(ReceiverKind.values)}.", {"field": "kind"}
        )
    if receiver is not None and receiver.kind != kind:
        raise InvalidReceiver("A receiver's kind cannot change.", {"field": "kind"})
    if not isinstance(name, str) or not name.strip() or len(name) > 120:
        raise InvalidReceiver("A receiver needs a name of 1 to 120 characters.", {"field": "name"})
    checked = _checked_config(kind, dict(config or {}))
    if secret is None:
        secret = receiver.secret if receiver is not None else ""
        if kind == ReceiverKind.WEBHOOK and not secret:
            secret = generate_webhook_secret()
    _check_secret(kind, secret)
    target = receiver or Receiver(kind=kind)
    target.name, target.config, target.secret = name.strip(), checked, secret
    target.send_resolved, target.is_active = bool(send_resolved), bool(is_active)
    try:
        with transaction.atomic():
            target.save()
    except IntegrityError:
        raise InvalidReceiver(f"A receiver named {name!r} exists.", {"field": "name"}) from None
    return target


def _checked_config(kind: str, config: dict) -> dict:
    unknown = sorted(set(config) - CONFIG_KEYS[kind])
    if unknown:
        raise InvalidReceiver(
            f"A {kind} receiver takes no {', '.join(unknown)}.", {"field": "config"}
        )
    for key, value in config.items():
        if key != "url" and (not isinstance(value, list) or len(value) > MAX_LIST):
            raise InvalidReceiver(f"{key} is a list of up to {MAX_LIST}.", {"field": key})
    if kind == ReceiverKind.EMAIL:
        _check_email_config(config)
    elif kind in (ReceiverKind.SMS, ReceiverKind.VOICE):
        numbers = config.get("numbers") or []
        bad = [n for n in numbers if not isinstance(n, str) or not E164.match(n)]
        if not numbers or bad:
            raise InvalidReceiver(
                "numbers: one or more phone numbers in E.164 form, e.g. +4915112345678.",
                {"field": "numbers"},
            )
    elif kind == ReceiverKind.WEBHOOK:
        _check_url(config.get("url"), "url")
    return config


def _check_email_config(config: dict) -> None:
    for address in config.get("addresses") or []:
        try:
            validate_email(address)
        except (ValidationError, TypeError):
            raise InvalidReceiver(
                f"{address!r} is not an e-mail address.", {"field": "addresses"}
            ) from None
    users = config.get("users") or []
    known = set(
        get_user_model().objects.filter(username__in=users).values_list("username", flat=True)
    )
    if set(users) - known:
        raise InvalidReceiver(
            f"Unknown user(s): {', '.join(sorted(set(users) - known))}.", {"field": "users"}
        )
    groups = config.get("groups") or []
    found = set(Group.objects.filter(name__in=groups).values_list("name", flat=True))
    if set(groups) - found:
        raise InvalidReceiver(
            f"Unknown group(s): {', '.join(sorted(set(groups) - found))}.", {"field": "groups"}
        )
    if not (config.get("addresses") or users or groups):
        raise InvalidReceiver(
            "An e-mail receiver names addresses, users or groups.", {"field": "config"}
        )


def _check_url(url: object, field: str) -> None:
    parts = urlsplit(url) if isinstance(url, str) else None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.netloc
        or len(str(url)) > 2000
    ):
        raise InvalidReceiver(f"{field} must be an http(s) URL.", {"field": field})


def _check_secret(kind: str, secret: str) -> None:
    if kind == ReceiverKind.SLACK:
        _check_url(secret, "secret")
    elif kind == ReceiverKind.WEBHOOK:
        try:
            key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if not secret.startswith("whsec_") or not 24 <= len(key) <= 64:
            raise InvalidReceiver(
                "secret: 'whsec_' and the base64 of 24 to 64 random bytes.", {"field": "secret"}
            )


def save_route(
    *, name: str, receiver: Receiver, route: Route | None = None, **values: object
) -> Route:
    """Create or change a route. Matchers and group-by are label names; waits in seconds."""
    if not isinstance(name, str) or not name.strip() or len(name) > 120:
        raise InvalidRoute("A route needs a name of 1 to 120 characters.", {"field": "name"})
    target = route or Route()
    target.name, target.receiver = name.strip(), receiver
    matchers = values.pop("matchers", target.matchers if route else {})
    target.matchers = checked_matchers(matchers, error=InvalidRoute) if matchers else {}
    group_by = values.pop("group_by", target.group_by if route else [])
    if not isinstance(group_by, list) or not all(
        isinstance(g, str) and GROUP_BY_LABEL.match(g) for g in group_by
    ):
        raise InvalidRoute("group_by is a list of label names.", {"field": "group_by"})
    target.group_by = sorted(set(group_by))
    for field, high in (
        ("position", 10_000),
        ("group_wait_seconds", MAX_WAIT_SECONDS),
        ("group_interval_seconds", MAX_WAIT_SECONDS),
    ):
        value = values.pop(field, getattr(target, field))
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
            raise InvalidRoute(
                f"{field} must be a whole number from 0 to {high}.", {"field": field}
            )
        setattr(target, field, value)
    steps = values.pop("repeat_steps_seconds", target.repeat_steps_seconds)
    if (
        not isinstance(steps, list)
        or len(steps) > 10
        or not all(type(s) is int and 60 <= s <= 90 * 86400 for s in steps)
    ):
        raise InvalidRoute(
            "repeat_steps_seconds: up to 10 waits of 60 s to 90 days.",
            {"field": "repeat_steps_seconds"},
        )
    target.repeat_steps_seconds = steps
    for flag in ("continue_matching", "is_active"):
        value = values.pop(flag, getattr(target, flag))
        if not isinstance(value, bool):
            raise InvalidRoute(f"{flag} must be true or false.", {"field": flag})
        setattr(target, flag, value)
    if values:
        raise InvalidRoute(
            f"Unknown route field(s): {', '.join(sorted(values))}.", {"field": sorted(values)[0]}
        )
    try:
        with transaction.atomic():
            target.save()
    except IntegrityError:
        raise InvalidRoute(f"A route named {name!r} exists.", {"field": "name"}) from None
    return target


def save_escalation_step(
    *, severity: str, position: int, after_minutes: int, receiver: Receiver
) -> EscalationStep:
    """Set step `position` (1, 2, …) of a severity's ladder; an existing one is replaced."""
    if severity not in Severity.values:
        raise InvalidEscalationStep(
            f"severity must be one of {', '.join(Severity.values)}.", {"field": "severity"}
        )
    for field, value, high in (
        ("position", position, 20),
        ("after_minutes", after_minutes, 7 * 24 * 60),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
            raise InvalidEscalationStep(
                f"{field} must be a whole number from 0 to {high}.", {"field": field}
            )
    with transaction.atomic():
        step, _ = EscalationStep.objects.update_or_create(
            severity=severity,
            position=position,
            defaults={"after_minutes": after_minutes, "receiver": receiver},
        )
        ladder = list(EscalationStep.objects.filter(severity=severity).order_by("position"))
        delays = [each.after_minutes for each in ladder]
        if delays != sorted(delays):
            raise InvalidEscalationStep(
                "A later step waits at least as long as an earlier one.", {"field": "after_minutes"}
            )
    return step


def send_test_message(*, receiver: Receiver, actor: Actor) -> Notification:
    """A TEST notification to this receiver, delivered like any other (and logged)."""
    notification_id = uuid.uuid4()
    payload = {
        "id": str(notification_id),
        "kind": NotificationKind.TEST,
        "receiver": receiver.name,
        "group": {},
        "title": f"[TEST] A test message from Inventory Hub, sent by {actor.label}",
        "firing_count": 0,
        "resolved_count": 0,
        "alerts": [],
        "resolved": [],
    }
    with transaction.atomic():
        return queue_notification(
            notification_id=notification_id,
            receiver=receiver,
            kind=NotificationKind.TEST,
            payload=payload,
        )
