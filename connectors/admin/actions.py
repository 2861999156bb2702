"""Actions on the selected connectors: each calls an engine service or queues its task."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import quote
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse

from connectors.inbound.queue import replay_dead_letters
from connectors.outbox import enqueue_connector_pushes
from connectors.sync.configure import archive_connector


@admin.action(description="Upload a CSV feed…", permissions=["change"])
def upload_feed_of_selected(modeladmin, request: HttpRequest, queryset: QuerySet):
    pks = list(queryset.values_list("pk", flat=True)[:2])
    if len(pks) != 1:
        modeladmin.message_user(
            request, "Select exactly one connector to upload a feed to.", messages.WARNING
        )
        return None
    return HttpResponseRedirect(
        reverse("admin:connectors_connector_upload_feed", args=[quote(pks[0])])
    )


@admin.action(description="Replay dead letters of the selected connectors", permissions=["change"])
def replay_connector_dead_letters(modeladmin, request: HttpRequest, queryset: QuerySet) -> None:
    count = sum(replay_dead_letters(connector_id=connector.pk) for connector in queryset)
    modeladmin.message_user(request, f"Queued {count} dead event(s) again.", messages.SUCCESS)


@admin.action(description="Push every mapped SKU now", permissions=["change"])
def push_everything(modeladmin, request: HttpRequest, queryset: QuerySet) -> None:
    count = sum(enqueue_connector_pushes(connector.pk) for connector in queryset)
    modeladmin.message_user(request, f"Queued {count} push(es).", messages.SUCCESS)


@admin.action(
    description="Reconcile now (a worker compares the store with the hub)", permissions=["change"]
)
def reconcile_now(modeladmin, request: HttpRequest, queryset: QuerySet) -> None:
    from connectors.sync.reconcile import start_reconciliation

    reports = [start_reconciliation(connector_id=c.pk) for c in queryset.filter(is_active=True)]
    modeladmin.message_user(
        request, f"Queued {len(reports)} reconciliation(s); see their reports.", messages.SUCCESS
    )


@admin.action(description="Set up: match SKUs, register webhooks", permissions=["change"])
def set_up_now(modeladmin, request: HttpRequest, queryset: QuerySet) -> None:
    from connectors.sync.tasks import set_up_connector_task

    count = _queue_for_active(queryset, set_up_connector_task, True, True, True)
    modeladmin.message_user(request, f"Queued setup of {count} connector(s).", messages.SUCCESS)


@admin.action(description="Poll now", permissions=["change"])
def poll_now(modeladmin, request: HttpRequest, queryset: QuerySet) -> None:
    from connectors.sync.tasks import poll_connector_task

    count = _queue_for_active(queryset, poll_connector_task)
    modeladmin.message_user(request, f"Queued a poll of {count} connector(s).", messages.SUCCESS)


@admin.action(
    description="Archive: switch off for good and hide, keeping the history",
    permissions=["change"],
)
def archive_selected(modeladmin, request: HttpRequest, queryset: QuerySet) -> None:
    connector_ids = list(queryset.filter(archived_at__isnull=True).values_list("pk", flat=True))
    for connector_id in connector_ids:
        archive_connector(connector_id=connector_id)
    modeladmin.message_user(
        request, f"Archived {len(connector_ids)} connector(s).", messages.SUCCESS
    )


def _queue_for_active(queryset: QuerySet, task, *args) -> int:
    """Queue `task(connector id, *args)` after commit for each active connector chosen."""
    connector_ids = list(queryset.filter(is_active=True).values_list("pk", flat=True))
    for connector_id in connector_ids:
        task.delay_on_commit(connector_id, *args)
    return len(connector_ids)
