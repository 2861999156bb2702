"""Alerts, silences, the delivery log and a rule's preview: what every role reads."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from alerts.models import Alert, DeliveryAttempt, Notification, Silence
from inventory_hub.api.serializers import StrictSerializer


def _code(obj, field: str) -> str | None:
    return getattr(obj, field) if obj is not None else None


class AlertOutput(serializers.ModelSerializer):
    rule = serializers.IntegerField(source="rule_id")
    rule_name = serializers.CharField(source="rule.name")
    condition = serializers.CharField(source="rule.condition")
    severity = serializers.CharField(source="rule.severity")
    sku = serializers.SerializerMethodField(help_text="Variant SKU.")
    warehouse = serializers.SerializerMethodField(help_text="Warehouse code.")
    channel = serializers.SerializerMethodField(help_text="Channel code.")
    connector = serializers.IntegerField(source="connector_id", allow_null=True)
    subject = serializers.DictField(help_text='What it is about, e.g. {"kind": "level", ...}.')
    labels = serializers.DictField()

    class Meta:
        model = Alert
        fields = [
            "id",
            "fingerprint",
            "rule",
            "rule_name",
            "condition",
            "severity",
            "subject",
            "sku",
            "warehouse",
            "channel",
            "connector",
            "labels",
            "state",
            "summary",
            "value",
            "started_at",
            "fired_at",
            "last_evaluated_at",
            "resolved_at",
            "acknowledged_at",
            "acknowledged_by",
            "escalation_step",
        ]

    def get_sku(self, alert: Alert) -> str | None:
        return _code(alert.variant, "sku")

    def get_warehouse(self, alert: Alert) -> str | None:
        return _code(alert.warehouse, "code")

    def get_channel(self, alert: Alert) -> str | None:
        return _code(alert.channel, "code")


class AlertNotificationOutput(serializers.ModelSerializer):
    receiver = serializers.IntegerField(source="receiver_id")
    receiver_name = serializers.CharField(source="receiver.name")

    class Meta:
        model = Notification
        fields = ["id", "kind", "status", "receiver", "receiver_name", "created_at", "sent_at"]


class AlertDetailOutput(AlertOutput):
    details = serializers.DictField(
        help_text="What made it fire: a breakdown, an override and its author, failures..."
    )
    notifications = AlertNotificationOutput(many=True, help_text="Newest first.")

    class Meta(AlertOutput.Meta):
        fields = [*AlertOutput.Meta.fields, "details", "notifications"]


class NoInput(StrictSerializer):
    """acknowledge, resolve, expire and test take no body; a body with fields is refused,
    naming them."""


# --- Silences --------------------------------------------------------------------------------


class SilenceInput(StrictSerializer):
    matchers = serializers.DictField(
        child=serializers.CharField(max_length=100),
        help_text="1 to 20 labels an alert must all have to be silenced.",
    )
    reason = serializers.CharField(max_length=300)
    starts_at = serializers.DateTimeField(required=False, help_text="Default: now.")
    ends_at = serializers.DateTimeField(help_text="In the future, at most a year on.")


class SilenceOutput(serializers.ModelSerializer):
    is_active = serializers.SerializerMethodField(help_text="In force now.")
    matchers = serializers.DictField()

    class Meta:
        model = Silence
        fields = [
            "id",
            "matchers",
            "author",
            "reason",
            "starts_at",
            "ends_at",
            "created_at",
            "is_active",
        ]

    def get_is_active(self, silence: Silence) -> bool:
        now = self.context["now"]
        return silence.starts_at <= now < silence.ends_at


# --- The delivery log ------------------------------------------------------------------------


class NotificationOutput(serializers.ModelSerializer):
    receiver = serializers.IntegerField(source="receiver_id")
    receiver_name = serializers.CharField(source="receiver.name")
    alerts = serializers.SerializerMethodField(help_text="Alert ids.")

    class Meta:
        model = Notification
        fields = [
            "id",
            "kind",
            "status",
            "receiver",
            "receiver_name",
            "alerts",
            "attempts",
            "next_attempt_at",
            "created_at",
            "sent_at",
        ]

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_alerts(self, notification: Notification) -> list[int]:
        return [alert.pk for alert in notification.alerts.all()]


class AttemptOutput(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = ["at", "ok", "response", "error", "duration_ms"]


class NotificationDetailOutput(NotificationOutput):
    payload = serializers.DictField(help_text="What was sent (its id is the notification's).")
    attempt_log = AttemptOutput(many=True, help_text="Every attempt, oldest first.")

    class Meta(NotificationOutput.Meta):
        fields = [*NotificationOutput.Meta.fields, "payload", "attempt_log"]


# --- A rule's preview ------------------------------------------------------------------------


class PreviewSubjectOutput(serializers.Serializer):
    subject = serializers.DictField()
    summary = serializers.CharField()
    value = serializers.IntegerField(allow_null=True)
    labels = serializers.DictField(help_text="The labels its alert carries (routing).")
    is_silenced = serializers.BooleanField(help_text="A silence in force matches it.")
    receivers = serializers.ListField(
        child=serializers.CharField(), help_text="Receivers its routes go to (by name)."
    )
    alert_id = serializers.IntegerField(allow_null=True, help_text="Its alert, if one exists.")
    alert_state = serializers.CharField(allow_null=True)


class EscalationPreviewOutput(serializers.Serializer):
    position = serializers.IntegerField()
    after_minutes = serializers.IntegerField()
    receiver = serializers.CharField()


class PreviewOutput(serializers.Serializer):
    rule = serializers.IntegerField(source="rule.pk")
    checked_at = serializers.DateTimeField()
    matching = serializers.IntegerField(help_text="Subjects the condition holds for now.")
    looked_at = serializers.IntegerField(help_text="Subjects of the scope looked at.")
    is_sample = serializers.BooleanField(
        help_text="The scope was too large: a sample of it was looked at."
    )
    subjects = PreviewSubjectOutput(many=True, help_text="The first 100 of those matching.")
    receivers = serializers.ListField(
        child=serializers.CharField(), help_text="Every receiver they would reach."
    )
    escalation = EscalationPreviewOutput(
        many=True, help_text="The ladder of the rule's severity, if it fires unacknowledged."
    )
