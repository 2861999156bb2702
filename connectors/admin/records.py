"""SKU mappings, status rules, and the records the engine writes (inbox, outbox, runs,
reports, status changes, problems): the records are read-only; actions call services."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from connectors.engine.problems import resolve_chosen_problems
from connectors.inbound.queue import replay_dead_letters
from connectors.models import (
    InboxEvent,
    OutboxItem,
    ReconciliationReport,
    SkuMapping,
    StatusChange,
    StatusRule,
    SyncProblem,
    SyncRun,
)
from connectors.sync.configure import (
    delete_sku_mapping,
    delete_status_rule,
    save_sku_mapping,
    save_status_rule,
)


@admin.register(SkuMapping)
class SkuMappingAdmin(admin.ModelAdmin):
    list_display = [
        "variant",
        "connector",
        "remote_id",
        "parent_id",
        "is_managed",
        "last_confirmed",
        "last_confirmed_at",
        "remote_updated_at",
    ]
    list_filter = ["connector", "is_managed"]
    search_fields = ["variant__sku", "remote_id", "parent_id"]
    autocomplete_fields = ["variant"]
    list_select_related = ["variant", "connector"]
    fields = [
        "connector",
        "variant",
        "remote_id",
        "parent_id",
        "is_managed",
        "last_pushed",
        "last_confirmed",
        "accounted",
        "in_flight",
        "store_orders",
        "last_confirmed_status",
        "last_confirmed_at",
        "remote_updated_at",
        "location_updated_at",
    ]
    readonly_fields = [
        "last_pushed",
        "last_confirmed",
        "accounted",
        "in_flight",
        "store_orders",
        "last_confirmed_status",
        "last_confirmed_at",
        "remote_updated_at",
        "location_updated_at",
    ]

    def save_model(self, request, obj: SkuMapping, form, change: bool) -> None:
        save_sku_mapping(mapping=obj)

    def delete_model(self, request, obj: SkuMapping) -> None:
        delete_sku_mapping(mapping=obj)

    def delete_queryset(self, request, queryset: QuerySet) -> None:
        for mapping in queryset:
            delete_sku_mapping(mapping=mapping)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written by the engine: looked at, filtered, never edited here."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.action(description="Replay the selected dead events", permissions=["view"])
def replay_selected(modeladmin, request: HttpRequest, queryset: QuerySet) -> None:
    if not request.user.has_perm("connectors.change_inboxevent"):
        modeladmin.message_user(request, "You may not replay events.", messages.ERROR)
        return
    count = replay_dead_letters(event_ids=list(queryset.values_list("pk", flat=True)))
    skipped = queryset.count() - count
    note = f" ({skipped} not dead, left alone)" if skipped else ""
    modeladmin.message_user(request, f"Queued {count} event(s) again{note}.", messages.SUCCESS)


@admin.register(InboxEvent)
class InboxEventAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "connector",
        "topic",
        "delivery_id",
        "state",
        "attempts",
        "received_at",
        "processed_at",
        "next_attempt_at",
        "last_error",  # why a delivery was refused at the door, or failed
    ]
    list_filter = ["state", "connector", "topic"]
    search_fields = ["delivery_id", "topic", "last_error", "result"]
    date_hierarchy = "received_at"
    list_select_related = ["connector"]
    actions = [replay_selected]
    readonly_fields = (
        "connector",
        "delivery_id",
        "topic",
        "state",
        "attempts",
        "received_at",
        "occurred_at",
        "next_attempt_at",
        "processed_at",
        "result",
        "last_error",
        "headers",
        "body",
    )
    fields = readonly_fields  # a tuple fits both stub types; a list fits one


@admin.register(OutboxItem)
class OutboxItemAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "connector",
        "variant",
        "state",
        "change_count",
        "attempts",
        "due_at",
        "claimed_until",
        "sent_at",
        "last_error",
    ]
    list_filter = ["state", "connector"]
    search_fields = ["variant__sku", "last_error"]
    list_select_related = ["connector", "variant"]
    readonly_fields = (
        "connector",
        "variant",
        "state",
        "change_count",
        "due_at",
        "claimed_until",
        "attempts",
        "last_error",
        "created_at",
        "updated_at",
        "sent_at",
        "sent_values",
    )
    fields = readonly_fields  # a tuple fits both stub types; a list fits one


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "connector",
        "kind",
        "started_at",
        "latency_ms",
        "is_ok",
        "item_count",
        "changed_count",
        "failed_count",
        "error",
    ]
    list_filter = ["kind", "is_ok", "connector"]
    date_hierarchy = "started_at"
    list_select_related = ["connector"]


@admin.register(ReconciliationReport)
class ReconciliationReportAdmin(ReadOnlyAdmin):
    list_display = ["id", "connector", "created_at", "checked", "drifted", "corrected", "is_ok"]
    list_filter = ["connector", "is_ok"]
    date_hierarchy = "created_at"
    list_select_related = ["connector"]


@admin.register(StatusRule)
class StatusRuleAdmin(admin.ModelAdmin):
    """Which store owns the stock status of a SKU (or every SKU) on a channel (or every one)."""

    list_display = ["owner", "variant", "channel", "created_at"]
    list_filter = ["owner", "channel"]
    search_fields = ["variant__sku", "owner__name"]
    autocomplete_fields = ["variant"]
    list_select_related = ["owner", "variant", "channel"]

    def save_model(self, request, obj: StatusRule, form, change: bool) -> None:
        save_status_rule(rule=obj)

    def delete_model(self, request, obj: StatusRule) -> None:
        delete_status_rule(rule=obj)

    def delete_queryset(self, request, queryset: QuerySet) -> None:
        for rule in queryset:
            delete_status_rule(rule=rule)


@admin.register(StatusChange)
class StatusChangeAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "variant",
        "channel",
        "connector",
        "previous_status",
        "new_status",
        "reason",
    ]
    list_filter = ["connector", "new_status"]
    search_fields = ["variant__sku", "reason", "source"]
    date_hierarchy = "created_at"
    list_select_related = ["variant", "channel", "connector"]


@admin.action(description="Mark the selected problems resolved", permissions=["view"])
def resolve_selected(modeladmin, request: HttpRequest, queryset: QuerySet) -> None:
    if not request.user.has_perm("connectors.change_syncproblem"):
        modeladmin.message_user(request, "You may not resolve problems.", messages.ERROR)
        return
    count = resolve_chosen_problems(problem_ids=list(queryset.values_list("pk", flat=True)))
    modeladmin.message_user(request, f"Resolved {count} problem(s).", messages.SUCCESS)


@admin.register(SyncProblem)
class SyncProblemAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "connector",
        "kind",
        "subject",
        "message",
        "count",
        "created_at",
        "last_seen_at",
        "resolved_at",
    ]
    list_filter = ["kind", "connector", ("resolved_at", admin.EmptyFieldListFilter)]
    search_fields = ["message", "subject"]
    date_hierarchy = "created_at"
    list_select_related = ["connector"]
    actions = [resolve_selected]
