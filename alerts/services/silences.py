"""Silences: alerts whose labels match are recorded, never sent, until the silence ends.
Each has an author, a reason and an expiry; expiring one early lets its alerts be sent at
their groups' next look."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from celery import current_app
from django.db import transaction
from django.utils import timezone

from alerts.core import FIRING, matches
from alerts.errors import InvalidSilence
from alerts.models import Alert, Silence
from stock.actors import Actor

NOTE_CHANGES_TASK = "alerts.notifications_tasks.note_alert_changes_task"
LABEL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,30}$")
MAX_SILENCE = timedelta(days=366)


def create_silence(
    *,
    matchers: Mapping[str, object],
    author: Actor,
    reason: str,
    ends_at: datetime,
    starts_at: datetime | None = None,
) -> Silence:
    """A silence from `starts_at` (now) to `ends_at`; refused whole when anything is off."""
    now = timezone.now()
    starts_at = starts_at or now
    checked = checked_matchers(matchers, error=InvalidSilence)
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 300:
        raise InvalidSilence(
            "A silence needs a reason of 1 to 300 characters.", {"field": "reason"}
        )
    if ends_at <= max(starts_at, now):
        raise InvalidSilence("A silence ends in the future, after it starts.", {"field": "ends_at"})
    if ends_at - starts_at > MAX_SILENCE:
        raise InvalidSilence("A silence lasts at most a year.", {"field": "ends_at"})
    with transaction.atomic():
        return Silence.objects.create(
            matchers=checked,
            author=author.label,
            reason=reason.strip(),
            starts_at=starts_at,
            ends_at=ends_at,
            created_at=now,
        )


def expire_silence(*, silence: Silence, actor: Actor) -> Silence:
    """End a silence now. Its alerts' groups are looked at again after the commit, so what
    it held back goes out at their next tick."""
    now = timezone.now()
    with transaction.atomic():
        locked = Silence.objects.select_for_update().get(pk=silence.pk)
        if locked.ends_at > now:
            locked.starts_at = min(locked.starts_at, now - timedelta(microseconds=1))
            locked.ends_at = now
            locked.save(update_fields=["starts_at", "ends_at"])
            held = [
                alert.pk
                for alert in Alert.objects.filter(state=FIRING).only("pk", "labels")
                if matches(locked.matchers, alert.labels)
            ]
            if held:
                current_app.tasks[NOTE_CHANGES_TASK].delay_on_commit(held)
    return locked


def active_silences(now: datetime) -> list[Silence]:
    return list(Silence.objects.filter(starts_at__lte=now, ends_at__gt=now))


def is_silenced(labels: Mapping[str, object], silences: Iterable[Silence]) -> bool:
    return any(matches(silence.matchers, labels) for silence in silences)


def checked_matchers(matchers: object, *, error: type[InvalidSilence] | type) -> dict[str, str]:
    """Label matchers: 1 to 20 label names, each equal to a text value (labels are text)."""
    if not isinstance(matchers, Mapping) or not 0 < len(matchers) <= 20:
        raise error("matchers must be an object of 1 to 20 labels.", {"field": "matchers"})
    for name, value in matchers.items():
        if not isinstance(name, str) or not LABEL_NAME.match(name):
            raise error(f"Label name {name!r} is not valid.", {"field": "matchers"})
        if not isinstance(value, str) or not 0 < len(value) <= 100:
            raise error(f"Matcher {name!r} needs a text value.", {"field": "matchers"})
    return dict(matchers)
