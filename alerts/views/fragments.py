"""The alert pages' fragments: what each section shows, read once, rendered as one partial
per stable id. The full page, an HTMX answer and a websocket push render the same ones."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Q
from django.template.loader import render_to_string
from django.utils import timezone

from alerts.access import handling_for, may_configure_alerts
from alerts.core import FIRING, PENDING, RESOLVED, matches
from alerts.models import Alert, Receiver, Rule, Severity, Silence
from alerts.services.notify import suppressed
from alerts.services.silences import active_silences
from alerts.views.forms import SilenceForm

User = AbstractBaseUser | AnonymousUser

PER_SECTION = 50
HISTORY = 20
LATEST_ON_TILE = 5
# Active alerts the page reads at most (newest first): silences and inhibition are worked
# out over these; the counts say when there are more.
ACTIVE_READ = 2000
SEVERITY_ORDER: dict[str, int] = {Severity.CRITICAL: 0, Severity.WARNING: 1, Severity.INFO: 2}
# The labels that name an alert's subject: a silence from the page matches its rule and
# these, so it holds back this alert and its later episodes, not the rule's others.
SUBJECT_LABELS = ("sku", "warehouse", "channel", "connector", "order", "transfer")


@dataclass(frozen=True, slots=True)
class AlertRow:
    alert: Alert
    details: list[tuple[str, str]]
    may_handle: bool
    may_resolve: bool
    held_by: str = ""  # why a silenced alert is not sent
    silence_id: int | None = None  # the silence that holds it back (None: inhibited)


@dataclass(frozen=True, slots=True)
class Section:
    key: str
    title: str
    rows: list[AlertRow]
    total: int
    empty: str


@dataclass(slots=True)
class Result:
    """What an action did, said at the top of what it re-rendered."""

    message: str
    is_change: bool = True
    alert_id: int | None = None


@dataclass(frozen=True, slots=True)
class Sorted:
    firing: list[Alert] = field(default_factory=list)
    pending: list[Alert] = field(default_factory=list)
    acknowledged: list[Alert] = field(default_factory=list)
    silenced: list[tuple[Alert, str, int | None]] = field(default_factory=list)


def silence_matchers(alert: Alert) -> dict[str, str]:
    """Its rule and its subject: what a silence made from this alert matches."""
    labels = alert.labels
    chosen = {"rule": str(labels.get("rule", alert.rule.name))}
    chosen |= {name: str(labels[name]) for name in SUBJECT_LABELS if labels.get(name)}
    return chosen


def detail_items(details: Mapping[str, object], prefix: str = "") -> list[tuple[str, str]]:
    """An alert's details as (name, text) pairs: nested objects flattened with their path
    ("breakdown warehouses NORTH"), lists joined."""
    items: list[tuple[str, str]] = []
    for name, value in details.items():
        label = f"{prefix}{name}".replace("_", " ")
        if isinstance(value, Mapping):
            items += detail_items(value, prefix=f"{label} ")
        elif isinstance(value, list | tuple):
            items.append((label, ", ".join(str(item) for item in value) or "none"))
        else:
            items.append((label, "" if value is None else str(value)))
    return items


def _ordered(alerts: Sequence[Alert]) -> list[Alert]:
    return sorted(
        alerts,
        key=lambda alert: (
            SEVERITY_ORDER.get(alert.rule.severity, 3),
            -(alert.fired_at or alert.started_at).timestamp(),
        ),
    )


def sort_active(active: Sequence[Alert], now: datetime) -> Sorted:
    """Each active alert in one section: held back (silenced or inhibited) first, then
    acknowledged, then firing or pending."""
    firing = [alert for alert in active if alert.state == FIRING]
    held = suppressed(firing, now) if firing else set()
    silences = active_silences(now) if held else []
    result = Sorted()
    for alert in _ordered(active):
        if alert.fingerprint in held:
            result.silenced.append((alert, *_held_by(alert, silences)))
        elif alert.acknowledged_at is not None:
            result.acknowledged.append(alert)
        elif alert.state == FIRING:
            result.firing.append(alert)
        else:
            result.pending.append(alert)
    return result


def _held_by(alert: Alert, silences: Sequence[Silence]) -> tuple[str, int | None]:
    for silence in silences:
        if matches(silence.matchers, alert.labels):
            until = timezone.localtime(silence.ends_at).strftime("%Y-%m-%d %H:%M")
            return f"Silenced by {silence.author} until {until}: {silence.reason}", silence.pk
    return "Inhibited: a firing alert about the same subject covers it", None


def alerts_context(user: User, *, result: Result | None = None, bound=None) -> dict:
    """The Alerts page: firing, pending, acknowledged, silenced, and recent history."""
    now = timezone.now()
    handling = handling_for(user)
    may_resolve = may_configure_alerts(user)
    active_rows = (
        Alert.objects.filter(state__in=[FIRING, PENDING])
        .select_related("rule", "warehouse")
        .order_by("-started_at")
    )
    active = list(active_rows[:ACTIVE_READ])
    found = sort_active(active, now)

    def rows(
        alerts: Sequence[Alert], held: Sequence[tuple[str, int | None]] = ()
    ) -> list[AlertRow]:
        shown = list(alerts)[:PER_SECTION]
        reasons = list(held) or [("", None)] * len(shown)
        return [
            AlertRow(
                alert,
                detail_items(alert.details),
                handling.covers(alert),
                may_resolve,
                reason,
                silence_id,
            )
            for alert, (reason, silence_id) in zip(shown, reasons, strict=False)
        ]

    history = list(
        Alert.objects.filter(state=RESOLVED, resolved_at__isnull=False)
        .select_related("rule")
        .order_by("-resolved_at")[:HISTORY]
    )
    sections = [
        Section("firing", "Firing", rows(found.firing), len(found.firing), "Nothing is firing."),
        Section("pending", "Pending", rows(found.pending), len(found.pending), "Nothing pending."),
        Section(
            "acknowledged",
            "Acknowledged",
            rows(found.acknowledged),
            len(found.acknowledged),
            "No acknowledged alert is still active.",
        ),
        Section(
            "silenced",
            "Silenced or inhibited",
            rows(
                [alert for alert, _, _ in found.silenced],
                [(why, silence_id) for _, why, silence_id in found.silenced],
            ),
            len(found.silenced),
            "Nothing is held back.",
        ),
    ]
    return {
        "sections": sections,
        "history": [AlertRow(alert, [], False, False) for alert in history],
        "more_active": len(active) == ACTIVE_READ,
        "may_handle_any": handling.allowed,
        "silence_form": SilenceForm(),
        "bound_silence": bound,
        "result": result,
        "now": now,
    }


def render_alerts_region(user: User, *, oob: bool) -> str:
    return render_to_string(
        "alerts/partials/alerts_region.html", {**alerts_context(user), "oob": oob}
    )


# --- The overview's tile ----------------------------------------------------------------


def tile_context(warehouse_id: int | None, *, result: Result | None = None) -> dict:
    """Firing alerts by severity and the latest few unacknowledged ones: everywhere, or of
    one warehouse (and those of none)."""
    firing = Alert.objects.filter(state=FIRING)
    if warehouse_id is not None:
        firing = firing.filter(Q(warehouse_id=warehouse_id) | Q(warehouse_id__isnull=True))
    counts = dict(firing.values_list("rule__severity").annotate(count=Count("pk")).order_by())
    latest = list(
        firing.filter(acknowledged_at__isnull=True)
        .select_related("rule")
        .order_by("-fired_at", "-pk")[:LATEST_ON_TILE]
    )
    return {
        "by_severity": [(severity, counts.get(severity, 0)) for severity in SEVERITY_ORDER],
        "total": sum(counts.values()),
        "latest": latest,
        "warehouse_id": warehouse_id,
        "result": result,
    }


def render_tile(warehouse_id: int | None, *, result: Result | None = None) -> str:
    return render_to_string(
        "alerts/partials/overview_tile.html",
        {"panel": tile_context(warehouse_id, result=result), "oob": False},
    )


# --- Rules and receivers ----------------------------------------------------------------


def rules_context() -> dict:
    firing = dict(
        Alert.objects.filter(state=FIRING)
        .values_list("rule_id")
        .annotate(count=Count("pk"))
        .order_by()
    )
    rules = list(
        Rule.objects.select_related("variant", "product", "warehouse", "channel", "connector")
    )
    for rule in rules:
        rule.firing_count = firing.get(rule.pk, 0)  # type: ignore[attr-defined]
    return {"rules": rules}


def receivers_context(*, result: Result | None = None, receiver_id: int | None = None) -> dict:
    return {
        "receivers": list(Receiver.objects.order_by("name")),
        "receiver_result": result,
        "result_receiver_id": receiver_id,
    }
