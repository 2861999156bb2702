"""Query filters for the alert, rule, receiver, silence and delivery-log lists."""

import django_filters
from django.db.models import QuerySet
from django.utils import timezone

from alerts.models import (
    Alert,
    AlertState,
    Condition,
    Notification,
    NotificationKind,
    NotificationStatus,
    Receiver,
    ReceiverKind,
    Rule,
    Severity,
    Silence,
)
from inventory_hub.api.filters import StableOrderingFilter, StrictBooleanFilter, StrictFilterSet
from warehouses.models import SalesChannel, Warehouse


class AlertFilter(StrictFilterSet):
    state = django_filters.MultipleChoiceFilter(
        choices=AlertState.choices, help_text="Repeat to match any of several."
    )
    severity = django_filters.MultipleChoiceFilter(
        field_name="rule__severity", choices=Severity.choices, help_text="The rule's severity."
    )
    condition = django_filters.ChoiceFilter(field_name="rule__condition", choices=Condition.choices)
    rule = django_filters.ModelChoiceFilter(queryset=Rule.objects.all(), help_text="Rule id.")
    warehouse = django_filters.ModelChoiceFilter(
        queryset=Warehouse.objects.all(), to_field_name="code", help_text="Warehouse code."
    )
    channel = django_filters.ModelChoiceFilter(
        queryset=SalesChannel.objects.all(), to_field_name="code", help_text="Channel code."
    )
    sku = django_filters.CharFilter(field_name="variant__sku", help_text="Variant SKU.")
    acknowledged = StrictBooleanFilter(
        method="filter_acknowledged", help_text="true: acknowledged; false: not yet."
    )
    ordering = StableOrderingFilter(fields=["started_at", "last_evaluated_at", "id"])

    class Meta:
        model = Alert
        fields = ["state", "severity", "condition", "rule", "warehouse", "channel", "sku"]

    def filter_acknowledged(self, queryset: QuerySet[Alert], name: str, value: bool) -> QuerySet:
        return queryset.filter(acknowledged_at__isnull=not value)


class RuleFilter(StrictFilterSet):
    condition = django_filters.ChoiceFilter(choices=Condition.choices)
    severity = django_filters.ChoiceFilter(choices=Severity.choices)
    is_active = StrictBooleanFilter()

    class Meta:
        model = Rule
        fields = ["condition", "severity", "is_active"]


class ReceiverFilter(StrictFilterSet):
    kind = django_filters.ChoiceFilter(choices=ReceiverKind.choices)
    is_active = StrictBooleanFilter()

    class Meta:
        model = Receiver
        fields = ["kind", "is_active"]


class SilenceFilter(StrictFilterSet):
    is_active = StrictBooleanFilter(
        method="filter_active", help_text="true: in force now; false: expired (or not begun)."
    )

    class Meta:
        model = Silence
        fields = ["is_active"]

    def filter_active(self, queryset: QuerySet[Silence], name: str, value: bool) -> QuerySet:
        now = timezone.now()
        active = queryset.filter(starts_at__lte=now, ends_at__gt=now)
        return active if value else queryset.exclude(pk__in=active.values("pk"))


class NotificationFilter(StrictFilterSet):
    receiver = django_filters.ModelChoiceFilter(
        queryset=Receiver.objects.all(), help_text="Receiver id."
    )
    status = django_filters.MultipleChoiceFilter(
        choices=NotificationStatus.choices, help_text="Repeat to match any of several."
    )
    kind = django_filters.MultipleChoiceFilter(choices=NotificationKind.choices)
    alert = django_filters.ModelChoiceFilter(
        field_name="alerts",
        queryset=Alert.objects.all(),
        distinct=True,
        help_text="Has this alert (id) in it.",
    )
    ordering = StableOrderingFilter(fields=["created_at", "sent_at"])

    class Meta:
        model = Notification
        fields = ["receiver", "status", "kind", "alert"]
