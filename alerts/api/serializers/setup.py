"""Rules, receivers, routes and escalation steps: the setup ops staff write."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from alerts.models import (
    Condition,
    EscalationStep,
    Receiver,
    ReceiverKind,
    Route,
    Rule,
    Severity,
)
from connectors.models import Connector
from inventory_hub.api.serializers import StrictBooleanField, StrictIntegerField, StrictSerializer
from stock.models import Product, Variant
from warehouses.models import SalesChannel, Warehouse

# (input field, rule field, model, the field the input names it by, what the input is)
SCOPES = (
    ("warehouse", "warehouse", Warehouse, "code", "Warehouse code."),
    ("channel", "channel", SalesChannel, "code", "Channel code."),
    ("sku", "variant", Variant, "sku", "Variant SKU."),
    ("product", "product", Product, "pk", "Product id."),
    ("connector", "connector", Connector, "pk", "Connector id."),
)


def label_map(**kwargs) -> serializers.DictField:
    """Label name to text value; the services check the names and how many (up to 20)."""
    return serializers.DictField(child=serializers.CharField(max_length=100), **kwargs)


class RuleChangeInput(StrictSerializer):
    """What a rule's PATCH may change; its condition never changes (make another rule).
    A scope field set to null widens the rule again."""

    name = serializers.CharField(required=False, max_length=120)
    warehouse = serializers.CharField(required=False, allow_null=True, max_length=32)
    channel = serializers.CharField(required=False, allow_null=True, max_length=32)
    sku = serializers.CharField(required=False, allow_null=True, max_length=64)
    product = StrictIntegerField(required=False, allow_null=True, min_value=1)
    connector = StrictIntegerField(required=False, allow_null=True, min_value=1)
    threshold = StrictIntegerField(
        required=False,
        allow_null=True,
        min_value=-1_000_000,
        max_value=1_000_000,
        help_text="Null: the variant's own low-stock threshold (available_below).",
    )
    hysteresis = StrictIntegerField(required=False, min_value=0, max_value=1_000_000)
    pending_seconds = StrictIntegerField(required=False, min_value=0, max_value=7 * 24 * 3600)
    severity = serializers.ChoiceField(choices=Severity.choices, required=False)
    labels = label_map(required=False, help_text='Routing labels, e.g. {"team": "north"}.')
    params = serializers.DictField(
        child=StrictIntegerField(min_value=0, max_value=1_000_000),
        required=False,
        help_text="Per condition: failures, dead_letters (connector_failing), multiple "
        "(stale_data), percent (drift), grace_hours, approved_hours (late_transfer).",
    )
    is_active = StrictBooleanField(
        required=False, help_text="false retires the rule (its alerts resolve); never deleted."
    )

    def validate(self, data: dict) -> dict:
        errors: dict[str, list[str]] = {}
        for field, rule_field, model, key, _ in SCOPES:
            if field not in data:
                continue
            value = data.pop(field)
            if value is None:
                data[rule_field] = None
                continue
            found = model.objects.filter(**{key: value}).first()
            if found is None:
                errors[field] = [f"No {model._meta.verbose_name} has {key} {value!r}."]
            data[rule_field] = found
        if errors:
            raise serializers.ValidationError(errors)
        return data


class RuleInput(RuleChangeInput):
    """A new rule: a name, a condition, and optionally its scope, threshold and routing."""

    name = serializers.CharField(max_length=120)
    condition = serializers.ChoiceField(choices=Condition.choices)


def _code(obj, field: str) -> str | None:
    return getattr(obj, field) if obj is not None else None


class RuleOutput(serializers.ModelSerializer):
    warehouse = serializers.SerializerMethodField(help_text="Warehouse code.")
    channel = serializers.SerializerMethodField(help_text="Channel code.")
    sku = serializers.SerializerMethodField(help_text="Variant SKU.")
    product = serializers.IntegerField(source="product_id", allow_null=True)
    connector = serializers.IntegerField(source="connector_id", allow_null=True)

    class Meta:
        model = Rule
        fields = [
            "id",
            "name",
            "condition",
            "warehouse",
            "channel",
            "sku",
            "product",
            "connector",
            "threshold",
            "hysteresis",
            "pending_seconds",
            "severity",
            "labels",
            "params",
            "is_active",
            "created_by",
            "created_at",
            "updated_at",
        ]

    def get_warehouse(self, rule: Rule) -> str | None:
        return _code(rule.warehouse, "code")

    def get_channel(self, rule: Rule) -> str | None:
        return _code(rule.channel, "code")

    def get_sku(self, rule: Rule) -> str | None:
        return _code(rule.variant, "sku")


# --- Receivers -------------------------------------------------------------------------------


@extend_schema_field(
    {
        "type": "object",
        "description": "Per kind: email {addresses, users, groups} (lists); webhook {url}; "
        "sms and voice {numbers} (E.164); slack and dashboard {}.",
        "additionalProperties": True,
    }
)
class ConfigField(serializers.DictField):
    pass


class ReceiverChangeInput(StrictSerializer):
    name = serializers.CharField(required=False, max_length=120)
    config = ConfigField(required=False)
    secret = serializers.CharField(
        required=False,
        write_only=True,
        max_length=2000,
        help_text="Write-only: a Slack incoming-webhook URL, or a webhook's whsec_ signing "
        "secret (a new webhook receiver without one gets a fresh secret). Never read back.",
    )
    send_resolved = StrictBooleanField(required=False)
    is_active = StrictBooleanField(required=False, help_text="false retires the receiver.")


class ReceiverInput(ReceiverChangeInput):
    name = serializers.CharField(max_length=120)
    kind = serializers.ChoiceField(choices=ReceiverKind.choices)


class ReceiverOutput(serializers.ModelSerializer):
    has_secret = serializers.SerializerMethodField(help_text="A secret is stored (never shown).")

    class Meta:
        model = Receiver
        fields = [
            "id",
            "name",
            "kind",
            "config",
            "has_secret",
            "send_resolved",
            "is_active",
            "created_at",
        ]

    def get_has_secret(self, receiver: Receiver) -> bool:
        return bool(receiver.secret)


# --- Routes and escalation steps -------------------------------------------------------------


def _receiver(value: int) -> Receiver:
    receiver = Receiver.objects.filter(pk=value).first()
    if receiver is None:
        raise serializers.ValidationError(f"No receiver has id {value}.")
    return receiver


class RouteChangeInput(StrictSerializer):
    name = serializers.CharField(required=False, max_length=120)
    receiver = StrictIntegerField(required=False, min_value=1, help_text="Receiver id.")
    position = StrictIntegerField(required=False, min_value=0, max_value=10_000)
    matchers = label_map(
        required=False, help_text="Labels an alert must all have; {} matches every alert."
    )
    continue_matching = StrictBooleanField(required=False)
    group_by = serializers.ListField(
        child=serializers.CharField(max_length=31), required=False, max_length=10
    )
    group_wait_seconds = StrictIntegerField(required=False, min_value=0, max_value=86400)
    group_interval_seconds = StrictIntegerField(required=False, min_value=0, max_value=86400)
    repeat_steps_seconds = serializers.ListField(
        child=StrictIntegerField(min_value=60, max_value=90 * 86400),
        required=False,
        max_length=10,
        help_text="Waits between repeats of an unchanged firing group, e.g. 4 h, 1 day, 1 week.",
    )
    is_active = StrictBooleanField(required=False)

    def validate_receiver(self, value: int) -> Receiver:
        return _receiver(value)


class RouteInput(RouteChangeInput):
    name = serializers.CharField(max_length=120)
    receiver = StrictIntegerField(min_value=1, help_text="Receiver id.")


class RouteOutput(serializers.ModelSerializer):
    receiver = serializers.IntegerField(source="receiver_id")
    receiver_name = serializers.CharField(source="receiver.name")

    class Meta:
        model = Route
        fields = [
            "id",
            "name",
            "position",
            "matchers",
            "receiver",
            "receiver_name",
            "continue_matching",
            "group_by",
            "group_wait_seconds",
            "group_interval_seconds",
            "repeat_steps_seconds",
            "is_active",
        ]


class EscalationStepChangeInput(StrictSerializer):
    after_minutes = StrictIntegerField(required=False, min_value=0, max_value=7 * 24 * 60)
    receiver = StrictIntegerField(required=False, min_value=1, help_text="Receiver id.")

    def validate_receiver(self, value: int) -> Receiver:
        return _receiver(value)


class EscalationStepInput(EscalationStepChangeInput):
    """Step `position` of a severity's ladder; an existing step at that place is replaced."""

    severity = serializers.ChoiceField(choices=Severity.choices)
    position = StrictIntegerField(min_value=0, max_value=20)
    after_minutes = StrictIntegerField(
        min_value=0, max_value=7 * 24 * 60, help_text="Firing unacknowledged this long."
    )
    receiver = StrictIntegerField(min_value=1, help_text="Receiver id.")


class EscalationStepOutput(serializers.ModelSerializer):
    receiver = serializers.IntegerField(source="receiver_id")
    receiver_name = serializers.CharField(source="receiver.name")

    class Meta:
        model = EscalationStep
        fields = ["id", "severity", "position", "after_minutes", "receiver", "receiver_name"]
