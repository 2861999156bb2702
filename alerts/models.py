"""Alerts: rules (data), one alert per fingerprint, receivers and routes, silences, the
notification log and the delivery log (docs/adr/0011-alerts-state-and-notification-log.md).

Only `alerts.services` writes these rows: the evaluator writes alert state, the notifier
the notification log, the delivery task the attempts.
"""

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone

from connectors.models import Connector
from inventory_hub.encryption import EncryptedTextField
from stock.models import Product, Variant
from warehouses.models import SalesChannel, Warehouse


class Condition(models.TextChoices):
    AVAILABLE_BELOW = "available_below", "Available below a threshold (per warehouse)"
    CHANNEL_SALABLE_BELOW = "channel_salable_below", "Salable on a channel below a threshold"
    OUT_OF_STOCK = "out_of_stock", "Out of stock (per warehouse)"
    BACK_IN_STOCK = "back_in_stock", "Back in stock (per warehouse)"
    CHANNEL_OUT_OF_STOCK = "channel_out_of_stock", "Out of stock on a channel"
    CHANNEL_BACK_IN_STOCK = "channel_back_in_stock", "Back in stock on a channel"
    FORCED_STATUS_CONTRADICTS = "forced_status_contradicts", "A forced status contradicts stock"
    SHORT_ORDER = "short_order", "An order the hub could not hold whole"
    CONNECTOR_FAILING = "connector_failing", "A connector is failing or down"
    STALE_DATA = "stale_data", "No successful pull or push for too long"
    DRIFT = "drift", "Drift above a share of mapped SKUs after a reconciliation"
    LATE_TRANSFER = "late_transfer", "A transfer is late"


class Severity(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


class Rule(models.Model):
    """What to watch. The scope narrows the subjects: none set means all of them."""

    name = models.CharField(max_length=120, unique=True)
    condition = models.CharField(max_length=40, choices=Condition.choices)
    variant = models.ForeignKey(
        Variant, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    warehouse = models.ForeignKey(
        Warehouse, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    channel = models.ForeignKey(
        SalesChannel, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    connector = models.ForeignKey(
        Connector, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Null for conditions with no quantity, and for "below the variant's own low-stock
    # threshold" on available_below.
    threshold = models.IntegerField(null=True, blank=True)
    # A firing alert resolves only at threshold + hysteresis.
    hysteresis = models.PositiveIntegerField(default=0)
    # The condition must hold this long before the alert fires.
    pending_seconds = models.PositiveIntegerField(default=0)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    # Routing labels added to every alert of this rule, e.g. {"team": "north"}.
    labels = models.JSONField(default=dict, blank=True)
    # Per-condition settings: failures (connector_failing), multiple (stale_data),
    # percent (drift), grace_hours and approved_hours (late_transfer).
    params = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)
    created_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["condition", "is_active"], name="alert_rule_condition")]

    def __str__(self) -> str:
        return self.name


class AlertState(models.TextChoices):
    PENDING = "pending", "Pending"
    FIRING = "firing", "Firing"
    RESOLVED = "resolved", "Resolved"


class Alert(models.Model):
    """One per fingerprint (rule, subject); its state moves, its identity never does."""

    fingerprint = models.CharField(max_length=64, unique=True)
    rule = models.ForeignKey(Rule, on_delete=models.PROTECT, related_name="alerts")
    # What the condition is about, e.g. {"kind": "level", "variant": 3, "warehouse": 2}.
    subject = models.JSONField()
    # The subject's ids again, as columns: filters, inhibition ("the same subject"), pages.
    variant = models.ForeignKey(
        Variant, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    warehouse = models.ForeignKey(
        Warehouse, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    channel = models.ForeignKey(
        SalesChannel, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    connector = models.ForeignKey(
        Connector, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    labels = models.JSONField(default=dict)
    state = models.CharField(max_length=10, choices=AlertState.choices)
    summary = models.CharField(max_length=300)
    # The value the condition was last seen at, and what made it fire (a breakdown, the
    # override and its author, the failures...).
    value = models.IntegerField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField()
    fired_at = models.DateTimeField(null=True, blank=True)
    last_evaluated_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.CharField(max_length=150, blank=True)
    # The escalation steps already taken for the current firing.
    escalation_step = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["state", "rule"], name="alert_state_rule"),
            models.Index(fields=["variant", "warehouse"], name="alert_subject_level"),
        ]

    def __str__(self) -> str:
        return self.summary


class ReceiverKind(models.TextChoices):
    EMAIL = "email", "E-mail"
    SLACK = "slack", "Slack (incoming webhook)"
    WEBHOOK = "webhook", "Signed webhook"
    SMS = "sms", "SMS"
    VOICE = "voice", "Voice call"
    DASHBOARD = "dashboard", "Dashboard"


class Receiver(models.Model):
    """Where notifications go. `config` holds what is not secret (addresses, user and group
    names, phone numbers, a webhook's URL); `secret` what is (a Slack webhook URL, a signing
    secret), encrypted at rest."""

    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=12, choices=ReceiverKind.choices)
    config = models.JSONField(default=dict, blank=True)
    secret = EncryptedTextField(blank=True, default="")
    send_resolved = models.BooleanField(default=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


# Repeats of an unchanged firing group: 4 hours, then a day, then a week (and weekly on).
DEFAULT_REPEAT_STEPS = [4 * 3600, 24 * 3600, 7 * 24 * 3600]


def default_repeat_steps() -> list[int]:
    return list(DEFAULT_REPEAT_STEPS)


class Route(models.Model):
    """Alerts whose labels match go to the receiver, grouped; the first matching route
    (by position) wins unless it says to continue."""

    name = models.CharField(max_length=120, unique=True)
    position = models.PositiveIntegerField(default=0)
    # {"label": "value", ...}; every one must equal the alert's label. Empty matches all.
    matchers = models.JSONField(default=dict, blank=True)
    receiver = models.ForeignKey(Receiver, on_delete=models.PROTECT, related_name="routes")
    continue_matching = models.BooleanField(default=False)
    group_by = models.JSONField(default=list, blank=True)
    group_wait_seconds = models.PositiveIntegerField(default=30)
    group_interval_seconds = models.PositiveIntegerField(default=300)
    repeat_steps_seconds = models.JSONField(default=default_repeat_steps, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.name


class Silence(models.Model):
    """Alerts whose labels match are recorded, never sent, until `ends_at`."""

    matchers = models.JSONField()
    author = models.CharField(max_length=150)
    reason = models.CharField(max_length=300)
    starts_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="silence_ends_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"Silence by {self.author} until {self.ends_at:%Y-%m-%d %H:%M}"


class EscalationStep(models.Model):
    """For alerts of a severity: after `after_minutes` firing unacknowledged, tell this
    receiver too (e-mail first, then SMS, then a call)."""

    severity = models.CharField(max_length=10, choices=Severity.choices)
    position = models.PositiveIntegerField()
    after_minutes = models.PositiveIntegerField()
    receiver = models.ForeignKey(Receiver, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["severity", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["severity", "position"], name="escalation_step_position_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.severity} step {self.position}: after {self.after_minutes} min"


class NotificationGroup(models.Model):
    """The notification log of one group (route, receiver, group key): what was last sent
    and when, and which repeat step it is on. Only the notifier writes it."""

    route = models.ForeignKey(Route, on_delete=models.CASCADE, related_name="groups")
    receiver = models.ForeignKey(Receiver, on_delete=models.CASCADE, related_name="groups")
    group_key = models.CharField(max_length=200)
    group_labels = models.JSONField(default=dict)
    # Fingerprints sent as firing, and as resolved, in the last notification.
    last_firing = models.JSONField(default=list)
    last_resolved = models.JSONField(default=list)
    last_sent_at = models.DateTimeField(null=True, blank=True)
    repeat_step = models.PositiveIntegerField(default=0)
    # When the group is next looked at: first after the group wait, then per interval.
    flush_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["route", "receiver", "group_key"], name="notification_group_unique"
            ),
        ]
        indexes = [models.Index(fields=["flush_at"], name="notification_group_flush")]

    def __str__(self) -> str:
        return f"{self.route} → {self.receiver} [{self.group_key}]"


class NotificationKind(models.TextChoices):
    FIRING = "firing", "Firing"
    RESOLVED = "resolved", "Resolved"
    REPEAT = "repeat", "Repeat"
    ESCALATION = "escalation", "Escalation"
    TEST = "test", "Test message"


class NotificationStatus(models.TextChoices):
    PENDING = "pending", "Waiting to be sent"
    SENDING = "sending", "Being sent"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed, will retry"
    DEAD = "dead", "Given up"


class Notification(models.Model):
    """One message to one receiver; its id travels with it, so a receiver can drop a copy
    and a row marked sent is never sent again."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    group = models.ForeignKey(
        NotificationGroup,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="notifications",
    )
    receiver = models.ForeignKey(Receiver, on_delete=models.PROTECT, related_name="notifications")
    kind = models.CharField(max_length=12, choices=NotificationKind.choices)
    alerts = models.ManyToManyField(Alert, related_name="notifications", blank=True)
    payload = models.JSONField(default=dict)
    status = models.CharField(
        max_length=10, choices=NotificationStatus.choices, default=NotificationStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # Set while a worker sends it; past it, a sweep may take it over (same id).
    lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="notification_due"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.receiver_id} ({self.status})"


class DeliveryAttempt(models.Model):
    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="attempt_log"
    )
    at = models.DateTimeField(default=timezone.now)
    ok = models.BooleanField()
    response = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{'ok' if self.ok else 'failed'} at {self.at:%Y-%m-%d %H:%M:%S}"
