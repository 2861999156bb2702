"""List filters for computed stock figures: status, threshold, channel."""

from django.contrib import admin
from django.db.models import Q
from django.utils import timezone

from stock.models import ForcedStatus, StockStatus
from stock.selectors import levels_below_threshold, levels_with_status
from warehouses.models import SalesChannel


class StatusListFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return StockStatus.choices

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        return levels_with_status(queryset, self.value())


class BelowThresholdListFilter(admin.SimpleListFilter):
    title = "below low-stock threshold"
    parameter_name = "below_threshold"

    def lookups(self, request, model_admin):
        return [("yes", "At or below threshold"), ("no", "Above threshold")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return levels_below_threshold(queryset)
        if self.value() == "no":
            # Above the threshold is exactly what in stock means (thresholds are never negative).
            return levels_with_status(queryset, StockStatus.IN_STOCK)
        return queryset


class ChannelListFilter(admin.SimpleListFilter):
    """Rows in the warehouses a sales channel sells from."""

    title = "sales channel"
    parameter_name = "channel"
    warehouse_path = "warehouse"

    def lookups(self, request, model_admin):
        return [
            (str(pk), f"{code} ({name})")
            for pk, code, name in SalesChannel.objects.order_by("code").values_list(
                "pk", "code", "name"
            )
        ]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        return queryset.filter(**{f"{self.warehouse_path}__links__channel": self.value()})


class SnapshotChannelListFilter(ChannelListFilter):
    warehouse_path = "level__warehouse"


class OpenForcedStatusListFilter(admin.SimpleListFilter):
    title = "override"
    parameter_name = "override"

    def lookups(self, request, model_admin):
        return [("open", "In force"), ("ended", "Ended or expired")]

    def queryset(self, request, queryset):
        in_force = Q(ended_at__isnull=True) & (
            Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
        )
        if self.value() == "open":
            return queryset.filter(in_force)
        if self.value() == "ended":
            return queryset.exclude(in_force)
        return queryset


class VariantForcedListFilter(admin.SimpleListFilter):
    title = "forced status"
    parameter_name = "forced"

    def lookups(self, request, model_admin):
        return [("yes", "Has a forced status"), ("no", "No forced status")]

    def queryset(self, request, queryset):
        forced = ForcedStatus.objects.filter(ended_at__isnull=True).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
        )
        if self.value() == "yes":
            return queryset.filter(pk__in=forced.values("variant_id"))
        if self.value() == "no":
            return queryset.exclude(pk__in=forced.values("variant_id"))
        return queryset
