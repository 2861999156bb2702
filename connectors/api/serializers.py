"""Shapes of the connectors API. Credentials and the webhook secret are write-only: no
output serializer has a field for them, only whether they are set. Below ops staff, options
(and the base URL) that may carry a key are shown masked (connectors.redaction)."""

from __future__ import annotations

import math

from rest_framework import serializers

from connectors.models import Connector as ConnectorRow
from connectors.models import (
    ConnectorKind,
    Ownership,
    ReconciliationReport,
    SkuMapping,
)
from connectors.redaction import masked_options, masked_url, sees_secret_options
from connectors.sync.configure import LocationInput as LocationValue
from connectors.sync.selectors import PushState
from connectors.sync.setup import inbound_url
from inventory_hub.api.serializers import (
    StrictBooleanField,
    StrictIntegerField,
    StrictSerializer,
    list_item_errors,
    require_whole_items,
)
from warehouses.models import SalesChannel, Warehouse

MAX_POLL_INTERVAL_SECONDS = 7 * 24 * 3600
MAX_LOCATIONS = 200
MAX_CREDENTIALS = 20


class StrictNumberField(serializers.FloatField):
    """A JSON number only ("5" and true are refused), finite."""

    default_error_messages = {"type": "Must be a JSON number."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("type")
        if not math.isfinite(data):
            self.fail("type")
        return super().to_internal_value(data)


class CredentialsField(serializers.DictField):
    """A JSON object of text values. Errors name the key, never the value (a secret)."""

    def __init__(self, **kwargs):
        super().__init__(child=serializers.CharField(max_length=2000), **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError("Must be a JSON object of text values.")
        if len(data) > MAX_CREDENTIALS:
            raise serializers.ValidationError(f"At most {MAX_CREDENTIALS} entries.")
        errors = {}
        for key, value in data.items():
            if not isinstance(value, str):
                errors[key] = ["Must be a JSON string."]
            elif len(value) > 2000:
                errors[key] = ["At most 2000 characters."]
            elif "\x00" in value or "\x00" in key:
                errors[key] = ["Must not contain NUL characters."]
        if errors:
            raise serializers.ValidationError(errors)
        return dict(data)


class LocationInput(StrictSerializer):
    location = serializers.CharField(
        max_length=64,
        allow_blank=True,
        trim_whitespace=False,
        help_text='The store\'s location: a Magento source code; "" for a WooCommerce store.',
    )
    warehouse = serializers.CharField(max_length=32, help_text="Hub warehouse code.")
    is_store_owned = StrictBooleanField(
        required=False,
        allow_null=True,
        help_text="Overrides the connector's ownership for this warehouse; null: inherit.",
    )


class ConnectorInput(StrictSerializer):
    name = serializers.CharField(max_length=120)
    kind = serializers.ChoiceField(choices=ConnectorKind.choices)
    is_active = StrictBooleanField(required=False)
    base_url = serializers.URLField(max_length=500, required=False, allow_blank=True)
    credentials = CredentialsField(
        required=False,
        write_only=True,
        help_text='Write-only: a JSON object such as {"consumer_key": "…", "consumer_secret": '
        '"…"} (WooCommerce) or {"token": "…"} (Magento); never shown back. When updating, '
        "omit it to keep what is stored.",
    )
    webhook_secret = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=255,
        write_only=True,
        help_text="Write-only: the secret stores sign deliveries with; never shown back. "
        "Empty on a WooCommerce connector: setup generates one. Required on a Magento or "
        "partner connector that is switched on: choose it and give the sender the same.",
    )
    options = serializers.DictField(
        required=False, help_text="Store-specific settings (see each store class)."
    )
    channel = serializers.CharField(
        max_length=32,
        required=False,
        allow_null=True,
        help_text="Code of the sales channel whose orders the store places and whose "
        "salable quantity it shows.",
    )
    ownership = serializers.ChoiceField(choices=Ownership.choices, required=False)
    poll_interval_seconds = StrictIntegerField(
        required=False, min_value=0, max_value=MAX_POLL_INTERVAL_SECONDS, help_text="0: never."
    )
    push_rate_per_second = StrictNumberField(required=False, min_value=0.01, max_value=1000)
    timeout_seconds = StrictNumberField(required=False, min_value=0.1, max_value=120)
    # many_init is what many=True calls; djangorestframework-stubs' __init__ lacks the
    # list's min_length/max_length that DRF hands on to the ListSerializer.
    locations = LocationInput.many_init(
        required=False,
        max_length=MAX_LOCATIONS,
        help_text="When given, replaces every location mapping of the connector.",
    )

    def validate_name(self, value: str) -> str:
        taken = ConnectorRow.objects.filter(name=value)
        if self.instance is not None:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise serializers.ValidationError(f"{value!r} is already taken.")
        return value

    def validate_kind(self, value: str) -> str:
        if self.instance is not None and value != self.instance.kind:
            raise serializers.ValidationError("The kind cannot be changed.")
        return value

    def validate_channel(self, value: str | None) -> SalesChannel | None:
        if value is None:
            return None
        channel = SalesChannel.objects.filter(code=value).first()
        if channel is None:
            raise serializers.ValidationError(f"No sales channel has code {value!r}.")
        return channel

    def validate_locations(self, items: list[dict]) -> list[LocationValue]:
        require_whole_items(items, LocationInput())
        codes = [item["warehouse"] for item in items]
        found = {w.code: w for w in Warehouse.objects.filter(code__in=codes)}
        errors: dict[int, dict] = {}
        seen_locations: set[str] = set()
        seen_warehouses: set[str] = set()
        for index, item in enumerate(items):
            if item["warehouse"] not in found:
                errors[index] = {"warehouse": [f"No warehouse has code {item['warehouse']!r}."]}
            elif item["warehouse"] in seen_warehouses:
                errors[index] = {"warehouse": ["Mapped twice."]}
            elif item["location"] in seen_locations:
                errors[index] = {"location": ["Mapped twice."]}
            seen_locations.add(item["location"])
            seen_warehouses.add(item["warehouse"])
        if errors:
            raise list_item_errors(errors)
        return [
            LocationValue(
                location=item["location"],
                warehouse=found[item["warehouse"]],
                is_store_owned=item.get("is_store_owned"),
            )
            for item in items
        ]


class LocationOutput(serializers.Serializer):
    location = serializers.CharField()
    warehouse = serializers.CharField(source="warehouse.code")
    is_store_owned = serializers.BooleanField(allow_null=True)


class ConnectorOutput(serializers.ModelSerializer):
    channel = serializers.CharField(source="channel.code", allow_null=True, default=None)
    options = serializers.DictField()
    has_credentials = serializers.SerializerMethodField()
    has_webhook_secret = serializers.SerializerMethodField()
    inbound_url = serializers.SerializerMethodField(
        help_text="Where the store delivers webhooks (absolute when HUB_PUBLIC_BASE_URL is set)."
    )
    locations = LocationOutput(source="location_mappings", many=True)

    class Meta:
        model = ConnectorRow
        fields = [
            "id",
            "name",
            "kind",
            "is_active",
            "base_url",
            "channel",
            "ownership",
            "options",
            "poll_interval_seconds",
            "push_rate_per_second",
            "timeout_seconds",
            "has_credentials",
            "has_webhook_secret",
            "inbound_url",
            "locations",
            "archived_at",
            "created_at",
            "updated_at",
        ]

    def to_representation(self, connector: ConnectorRow) -> dict:
        data = super().to_representation(connector)
        request = self.context.get("request")
        if request is not None and not sees_secret_options(request.user):
            data["base_url"] = masked_url(data["base_url"]) if data["base_url"] else ""
            data["options"] = masked_options(data["options"])
        return data

    def get_has_credentials(self, connector: ConnectorRow) -> bool:
        return bool(connector.credentials)

    def get_has_webhook_secret(self, connector: ConnectorRow) -> bool:
        return bool(connector.webhook_secret)

    def get_inbound_url(self, connector: ConnectorRow) -> str:
        return inbound_url(connector)


class QueueOutput(serializers.Serializer):
    pending_pushes = serializers.IntegerField()
    due_pushes = serializers.IntegerField()
    dead_pushes = serializers.IntegerField()
    waiting_events = serializers.IntegerField()
    dead_events = serializers.IntegerField()


class RunErrorOutput(serializers.Serializer):
    kind = serializers.CharField()
    started_at = serializers.DateTimeField()
    error = serializers.CharField()


class ProblemOutput(serializers.Serializer):
    kind = serializers.CharField()
    subject = serializers.CharField(help_text='What it is about ("": the store as a whole).')
    message = serializers.CharField(help_text="The latest occurrence's.")
    count = serializers.IntegerField(help_text="Times seen since it was opened.")
    first_seen_at = serializers.DateTimeField()
    last_seen_at = serializers.DateTimeField()


class HealthOutput(serializers.Serializer):
    id = serializers.IntegerField(source="connector.pk")
    is_active = serializers.BooleanField(source="connector.is_active")
    archived_at = serializers.DateTimeField(source="connector.archived_at", allow_null=True)
    push_state = serializers.ChoiceField(
        choices=[state.value for state in PushState],
        help_text="What the push worker does now: a switched-off or archived connector "
        "pushes nothing, whatever its breaker says.",
    )
    circuit_state = serializers.CharField(source="connector.circuit_state")
    circuit_opened_at = serializers.DateTimeField(
        source="connector.circuit_opened_at", allow_null=True
    )
    consecutive_failures = serializers.IntegerField(source="connector.consecutive_failures")
    paused_until = serializers.DateTimeField(source="connector.paused_until", allow_null=True)
    last_pull_at = serializers.DateTimeField(
        source="connector.last_pull_at",
        allow_null=True,
        help_text="Start of the last poll whose stock part applied all it read.",
    )
    orders_pulled_at = serializers.DateTimeField(
        source="connector.orders_pulled_at",
        allow_null=True,
        help_text="Start of the last poll whose orders part applied all it read.",
    )
    failed_poll_parts = serializers.DictField(
        child=serializers.CharField(),
        help_text='The parts of the last poll that failed, with why: {"orders": "…"}; '
        "{} when it read everything. The other parts' progress counted.",
    )
    last_push_at = serializers.DateTimeField(source="connector.last_push_at", allow_null=True)
    last_poll_at = serializers.DateTimeField(allow_null=True)
    last_reconciled_at = serializers.DateTimeField(allow_null=True)
    last_error = serializers.CharField(source="connector.last_error")
    last_push_latency_ms = serializers.IntegerField(allow_null=True)
    average_push_latency_ms = serializers.IntegerField(
        allow_null=True, help_text="Over the last 20 push requests."
    )
    queue = QueueOutput(source="queues")
    open_problems = serializers.IntegerField()
    problems = ProblemOutput(
        many=True, help_text="Open problems, most recently seen first (at most 50)."
    )
    recent_errors = RunErrorOutput(many=True)


class MappingOutput(serializers.ModelSerializer):
    sku = serializers.CharField(source="variant.sku")
    last_pushed = serializers.DictField()
    last_confirmed = serializers.DictField()
    last_confirmed_status = serializers.DictField()

    class Meta:
        model = SkuMapping
        fields = [
            "id",
            "sku",
            "remote_id",
            "parent_id",
            "is_managed",
            "last_pushed",
            "last_confirmed",
            "last_confirmed_status",
            "last_confirmed_at",
            "remote_updated_at",
            "created_at",
        ]


class ReportSummaryOutput(serializers.ModelSerializer):
    unmapped_count = serializers.SerializerMethodField()

    class Meta:
        model = ReconciliationReport
        fields = [
            "id",
            "created_at",
            "finished_at",
            "is_ok",
            "error",
            "checked",
            "drifted",
            "corrected",
            "unmapped_count",
        ]

    def get_unmapped_count(self, report: ReconciliationReport) -> int:
        return len(report.unmapped or [])


class ReportOutput(ReportSummaryOutput):
    unmapped = serializers.ListField(child=serializers.DictField())
    details = serializers.ListField(
        child=serializers.DictField(), help_text="One entry per SKU-location not in sync."
    )

    class Meta(ReportSummaryOutput.Meta):
        fields = [*ReportSummaryOutput.Meta.fields, "unmapped", "details"]


class DriftPointOutput(serializers.Serializer):
    report = serializers.IntegerField(source="report_id")
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    is_ok = serializers.BooleanField(allow_null=True)
    checked = serializers.IntegerField()
    drifted = serializers.IntegerField()
    corrected = serializers.IntegerField()
    unmapped = serializers.IntegerField()


class TestConnectionOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    latency_ms = serializers.IntegerField()
    error = serializers.CharField(allow_blank=True)


class SyncInput(StrictSerializer):
    full = StrictBooleanField(
        required=False, default=False, help_text="Read all stock, not only what changed."
    )


class SetupInput(StrictSerializer):
    match_skus = StrictBooleanField(required=False, default=True)
    map_locations = StrictBooleanField(
        required=False, default=False, help_text="Map Magento sources to warehouses by code."
    )
    register_webhooks = StrictBooleanField(required=False, default=True)


class QueuedOutput(serializers.Serializer):
    queued = serializers.CharField(help_text="What a worker will do: poll, setup.")
    connector = serializers.IntegerField()


class ReconcileQueuedOutput(serializers.Serializer):
    queued = serializers.CharField()
    connector = serializers.IntegerField()
    report = serializers.IntegerField(help_text="The report the run fills in.")


class ReplayOutput(serializers.Serializer):
    replayed = serializers.IntegerField(help_text="Dead inbox events queued again.")


class FeedUploadInput(serializers.Serializer):
    """The schema of a multipart upload (the view reads the file itself)."""

    file = serializers.FileField(
        help_text="The CSV, UTF-8, with the partner's header (csv_columns: sku and quantity "
        "required; status, location, updated_at read when present)."
    )


class FeedQueuedOutput(serializers.Serializer):
    queued = serializers.CharField(help_text='"feed": a worker applies the file.')
    connector = serializers.IntegerField()
    event = serializers.IntegerField(help_text="The inbox event holding the file as uploaded.")
    rows = serializers.IntegerField(help_text="Stock rows in the file.")
