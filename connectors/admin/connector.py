"""The connector's own admin page: settings, secrets, locations, health, a feed upload."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, TypedDict

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse

from connectors.models import Connector, InboxState, LocationMapping, OutboxState
from connectors.partner.csv_feed import MalformedFeed
from connectors.redaction import masked_options, masked_url, sees_secret_options
from connectors.sync.configure import ConnectorHasHistory, connector_history, delete_connector
from connectors.sync.feeds import FeedNotAccepted, kind_reads_csv_feeds, upload_feed
from inventory_hub.admin_kit import form_page, missing_object_redirect

from .actions import (
    archive_selected,
    poll_now,
    push_everything,
    reconcile_now,
    replay_connector_dead_letters,
    set_up_now,
    upload_feed_of_selected,
)
from .forms import ConnectorForm, FeedUploadForm, submitted_locations

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldsetSpec
    from django_stubs_ext import WithAnnotations


class _QueueCounts(TypedDict):
    """ConnectorAdmin.get_queryset's annotations."""

    pending_count: int
    dead_count: int


class LocationMappingInline(admin.TabularInline):
    model = LocationMapping
    fields = ["location", "warehouse", "is_store_owned"]
    autocomplete_fields = ["warehouse"]
    extra = 0
    verbose_name = "location mapping"
    verbose_name_plural = "locations (store location ↔ hub warehouse)"


@admin.register(Connector)
class ConnectorAdmin(admin.ModelAdmin):
    form = ConnectorForm
    list_display = [
        "name",
        "kind",
        "is_active",
        "channel",
        "ownership",
        "circuit_state",
        "consecutive_failures",
        "pending_pushes",
        "dead_events",
        "last_push_at",
        "last_pull_at",
    ]
    list_filter = [
        "kind",
        "is_active",
        ("archived_at", admin.EmptyFieldListFilter),
        "ownership",
        "circuit_state",
    ]
    search_fields = ["name", "base_url"]
    inlines = [LocationMappingInline]
    actions = [
        push_everything,
        replay_connector_dead_letters,
        reconcile_now,
        set_up_now,
        poll_now,
        upload_feed_of_selected,
        archive_selected,
    ]
    readonly_fields = [
        "secrets_stored",
        "options_shown",
        "base_url_shown",
        "last_pull_at",
        "last_push_at",
        "last_error",
        "consecutive_failures",
        "circuit_state",
        "circuit_opened_at",
        "paused_until",
        "orders_pulled_at",
        "archived_at",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["name", "kind", "is_active", "base_url", "channel", "ownership"]}),
        (
            "Secrets (write-only)",
            {
                "fields": [
                    "secrets_stored",
                    "new_credentials",
                    "new_webhook_secret",
                    "clear_secrets",
                ]
            },
        ),
        (
            "Behaviour",
            {
                "fields": [
                    "options",
                    "poll_interval_seconds",
                    "push_rate_per_second",
                    "timeout_seconds",
                ]
            },
        ),
        (
            "Health",
            {
                "fields": [
                    "circuit_state",
                    "consecutive_failures",
                    "circuit_opened_at",
                    "paused_until",
                    "last_push_at",
                    "last_pull_at",
                    "orders_pulled_at",
                    "last_error",
                    "archived_at",
                    "created_at",
                    "updated_at",
                ]
            },
        ),
    ]

    def get_urls(self):
        return [
            path(
                "<path:object_id>/upload-feed/",
                self.admin_site.admin_view(self.upload_feed_view),
                name="connectors_connector_upload_feed",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request: HttpRequest, object_id: str, form_url="", extra_context=None):
        connector = self.get_object(request, unquote(object_id))
        extra_context = {
            **(extra_context or {}),
            "reads_csv_feeds": connector is not None and kind_reads_csv_feeds(connector.kind),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def upload_feed_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        connector = self.get_object(request, unquote(object_id))
        if connector is None:
            return missing_object_redirect(self, request, object_id)
        if not self.has_change_permission(request, connector):
            raise PermissionDenied
        form = FeedUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                stored = upload_feed(
                    connector=connector,
                    data=upload.read(),
                    file_name=upload.name or "",
                    uploaded_by=request.user.get_username(),
                )
            except FeedNotAccepted as refusal:
                form.add_error(None, str(refusal))
            except MalformedFeed as problem:
                form.add_error("file", f"Nothing was kept: {problem}")
            else:
                self.message_user(
                    request,
                    f"{upload.name}: {stored.rows} row(s) kept as inbox event {stored.event_id}; "
                    "a worker applies them.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse("admin:connectors_inboxevent_change", args=[stored.event_id])
                )
        return form_page(
            self,
            request,
            template="admin/connectors/connector/upload_feed.html",
            title=f"Upload a CSV feed to {connector.name}",
            obj=connector,
            form=form,
            connector=connector,
            submit_label="Upload",
        )

    def has_delete_permission(self, request: HttpRequest, obj: Connector | None = None) -> bool:
        # As in the API: a connector with history is archived, never deleted.
        if obj is not None and connector_history(obj):
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request: HttpRequest) -> dict:
        # The bulk delete would cascade through every history without asking.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def get_readonly_fields(self, request: HttpRequest, obj: Connector | None = None) -> list[str]:
        # As in the API: a connector's kind is chosen once.
        return [*self.readonly_fields, "kind"] if obj is not None else list(self.readonly_fields)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Connector]:
        return (
            super()
            .get_queryset(request)
            .select_related("channel")
            .annotate(
                pending_count=Count(
                    "outbox_items", filter=Q(outbox_items__state=OutboxState.PENDING), distinct=True
                ),
                dead_count=Count(
                    "inbox_events", filter=Q(inbox_events__state=InboxState.DEAD), distinct=True
                ),
            )
        )

    @admin.display(description="pending pushes", ordering="pending_count")
    def pending_pushes(self, connector: WithAnnotations[Connector, _QueueCounts]) -> int:
        return connector.pending_count

    @admin.display(description="dead events", ordering="dead_count")
    def dead_events(self, connector: WithAnnotations[Connector, _QueueCounts]) -> int:
        return connector.dead_count

    @admin.display(description="stored")
    def secrets_stored(self, connector: Connector) -> str:
        # Says whether something is stored, never what.
        credentials = "credentials set" if connector.credentials else "no credentials"
        secret = "webhook secret set" if connector.webhook_secret else "no webhook secret"
        return f"{credentials}; {secret}"

    @admin.display(description="options")
    def options_shown(self, connector: Connector) -> str:
        return json.dumps(masked_options(connector.options or {}), indent=2)

    @admin.display(description="base URL")
    def base_url_shown(self, connector: Connector) -> str:
        return masked_url(connector.base_url) if connector.base_url else "-"

    def get_fieldsets(self, request: HttpRequest, obj: Connector | None = None) -> _FieldsetSpec:
        # Below ops staff, options and the base URL may carry keys: shown masked, read-only.
        fieldsets = super().get_fieldsets(request, obj)
        if sees_secret_options(request.user):
            return fieldsets
        # Looked up with each entry of "fields", which may also be a group of names.
        shown: dict[object, str] = {"options": "options_shown", "base_url": "base_url_shown"}
        return [
            (name, {**spec, "fields": [shown.get(field, field) for field in spec["fields"]]})
            for name, spec in fieldsets
        ]

    def delete_model(self, request: HttpRequest, obj: Connector) -> None:
        # Through the API's service: under the connector's row lock it refuses a connector
        # that gained history since the page was read.
        try:
            delete_connector(connector_id=obj.pk)
        except ConnectorHasHistory as refusal:
            raise PermissionDenied(str(refusal)) from None

    def save_model(self, request, obj: Connector, form, change: bool) -> None:
        """Nothing yet: `save_related` saves the connector with its locations in one call."""

    def save_related(self, request, form: ConnectorForm, formsets, change: bool) -> None:
        locations = None
        for formset in formsets:
            if formset.model is LocationMapping:
                # Not written here (configure replaces the mappings); this only records
                # what changed, for the admin's history.
                formset.save(commit=False)
                locations = submitted_locations(formset)
        form.save(locations=locations)
