"""Admin for connectors: setup, mappings, inbox (with dead-letter replay), outbox, sync log.

Credentials and the webhook secret are write-only here: the form has password fields that
are never filled in, a blank field keeps what is stored, and no list, page or message
shows them. A connector and its locations are checked and saved by the API's services
(connectors.sync.configure), so the admin refuses what the API refuses, naming the field,
and queues the same pushes. A partner's CSV feed is uploaded on a page of its own
(connectors.sync.feeds). Inbox, outbox, runs and problems are read-only records; actions
call the engine's services.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone

from connectors.inbound.queue import replay_dead_letters
from connectors.models import (
    Connector,
    InboxEvent,
    InboxState,
    LocationMapping,
    OutboxItem,
    OutboxState,
    ReconciliationReport,
    SkuMapping,
    StatusChange,
    StatusRule,
    SyncProblem,
    SyncRun,
)
from connectors.outbox import enqueue_connector_pushes, forget_mapping_state
from connectors.partner.csv_feed import MalformedFeed
from connectors.redaction import masked_options, masked_url, sees_secret_options
from connectors.sync.configure import (
    InvalidConnectorSettings,
    LocationInput,
    archive_connector,
    check_connector,
    connector_history,
    create_connector,
    update_connector,
)
from connectors.sync.feeds import (
    MAX_FEED_BYTES,
    FeedNotAccepted,
    kind_reads_csv_feeds,
    upload_feed,
)
from inventory_hub.json_input import load_json
from stock.admin.common import form_page

# Listed, not excluded: a field added to the model later must not appear (and be shown
# back) without someone deciding it may.
SETTING_FIELDS = [
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
]
LOCATION_FIELDS = ["location", "warehouse", "is_store_owned"]
LOCATION_PREFIX = "location_mappings"  # the inline's, so the form can read what it submits
# The form field that shows a refusal naming a setting (see InvalidConnectorSettings.field).
FORM_FIELDS = {"webhook_secret": "new_webhook_secret", "credentials": "new_credentials"}
LocationFormSet = forms.inlineformset_factory(
    Connector, LocationMapping, fields=LOCATION_FIELDS, extra=0, can_delete=True
)


def submitted_locations(formset: forms.BaseInlineFormSet) -> list[LocationInput]:
    """The location mappings a valid formset stands for once saved: the stored ones, as its
    forms change or delete them, and its new ones (a stored mapping it has no form for is
    kept, as Django's own formset saving would)."""
    stored = (
        LocationMapping.objects.filter(connector=formset.instance).select_related("warehouse")
        if formset.instance.pk is not None
        else []
    )
    locations = {
        mapping.pk: LocationInput(mapping.location, mapping.warehouse, mapping.is_store_owned)
        for mapping in stored
    }
    added = []
    for form in formset.forms:
        data = form.cleaned_data
        if not data:
            continue  # an untouched extra form
        existing = data.get("id")
        if data.get("DELETE"):
            if existing is not None:
                locations.pop(existing.pk, None)
            continue
        location = LocationInput(
            location=data.get("location") or "",
            warehouse=data["warehouse"],
            is_store_owned=data.get("is_store_owned"),
        )
        if existing is not None:
            locations[existing.pk] = location
        else:
            added.append(location)
    return [*locations.values(), *added]


class ConnectorForm(forms.ModelForm):
    base_url = forms.URLField(required=False, max_length=500, assume_scheme="https")
    new_credentials = forms.CharField(
        label="Credentials",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text='A JSON object, e.g. {"consumer_key": "…", "consumer_secret": "…"} (see the '
        "store class). Write-only: leave blank to keep what is stored.",
    )
    new_webhook_secret = forms.CharField(
        label="Webhook secret",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Write-only: leave blank to keep what is stored. WooCommerce: leave it "
        "empty, setup makes one. Magento and partners: required to switch the connector on; "
        "choose a long random value and give the sender the same.",
    )
    clear_secrets = forms.BooleanField(
        required=False, help_text="Remove the stored credentials and webhook secret."
    )

    class Meta:
        model = Connector
        fields = SETTING_FIELDS

    def clean_new_credentials(self) -> dict | None:
        raw = self.cleaned_data.get("new_credentials") or ""
        if not raw:
            return None
        try:
            value = load_json(raw)  # refuses NUL (jsonb holds none) and deep nesting
        except ValueError:
            # The message must not echo the input: it is a secret.
            raise forms.ValidationError("Credentials must be a JSON object.") from None
        if not isinstance(value, dict) or not all(
            isinstance(key, str) and isinstance(item, str) for key, item in value.items()
        ):
            raise forms.ValidationError(
                'Credentials must be a JSON object of text values, e.g. {"token": "…"}.'
            )
        return value

    def clean(self) -> dict:
        cleaned = super().clean()
        if self.errors:
            return cleaned  # each field's own error first: the settings are incomplete
        credentials, webhook_secret = self._secrets()
        draft = Connector(
            pk=self.instance.pk,
            kind=self.instance.kind,
            credentials=self.instance.credentials if credentials is None else credentials,
            webhook_secret=self.instance.webhook_secret
            if webhook_secret is None
            else webhook_secret,
        )
        for name, value in self._settings().items():
            setattr(draft, name, value)
        try:
            check_connector(draft, locations=self._submitted_locations())
        except InvalidConnectorSettings as error:
            self.add_error(FORM_FIELDS.get(error.field, error.field), str(error))
        return cleaned

    def _settings(self) -> dict:
        # The kind is read-only on a saved connector (as in the API): not in the form then.
        settings = {name: self.cleaned_data[name] for name in SETTING_FIELDS if name in self.fields}
        settings["options"] = settings["options"] or {}  # an emptied field: no options
        return settings

    def _secrets(self) -> tuple[dict | None, str | None]:
        """(credentials, webhook secret) to store; None keeps what is stored."""
        credentials = self.cleaned_data.get("new_credentials")
        webhook_secret = self.cleaned_data.get("new_webhook_secret") or None
        if self.cleaned_data.get("clear_secrets"):
            credentials = {} if credentials is None else credentials
            webhook_secret = webhook_secret or ""
        return credentials, webhook_secret

    def _submitted_locations(self) -> list[LocationInput] | None:
        """The locations the admin's inline submits with this form; None (check against
        the stored ones) when it submits none or they are invalid: the inline says why."""
        formset = LocationFormSet(self.data, instance=self.instance, prefix=LOCATION_PREFIX)
        if not formset.is_valid():
            return None
        return submitted_locations(formset)

    def save(
        self, commit: bool = True, *, locations: list[LocationInput] | None = None
    ) -> Connector:
        """Without `commit`, the instance with the new values (nothing written). With it,
        the connector created or changed through connectors.sync.configure, `locations`
        replacing its mappings when given."""
        credentials, webhook_secret = self._secrets()
        if not commit:
            connector = super().save(commit=False)
            if credentials is not None:
                connector.credentials = credentials
            if webhook_secret is not None:
                connector.webhook_secret = webhook_secret
            return connector
        if self.instance.pk is None:
            saved = create_connector(
                credentials=credentials,
                webhook_secret=webhook_secret or "",
                locations=locations or (),
                **self._settings(),
            )
        else:
            saved = update_connector(
                self.instance,
                credentials=credentials,
                webhook_secret=webhook_secret,
                locations=locations,
                **self._settings(),
            )
        self.instance.pk = saved.pk
        self.instance.refresh_from_db()
        return self.instance


class LocationMappingInline(admin.TabularInline):
    model = LocationMapping
    fields = ["location", "warehouse", "is_store_owned"]
    autocomplete_fields = ["warehouse"]
    extra = 0
    verbose_name = "location mapping"
    verbose_name_plural = "locations (store location ↔ hub warehouse)"


class FeedUploadForm(forms.Form):
    file = forms.FileField(
        help_text="CSV, UTF-8, with the partner's header (its csv_columns: sku and quantity "
        f"required; status, location, updated_at read when present); at most "
        f"{MAX_FEED_BYTES // (1024 * 1024)} MB."
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_FEED_BYTES:
            raise forms.ValidationError(f"At most {MAX_FEED_BYTES // (1024 * 1024)} MB.")
        return upload


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
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
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
    def pending_pushes(self, connector: Connector) -> int:
        return connector.pending_count

    @admin.display(description="dead events", ordering="dead_count")
    def dead_events(self, connector: Connector) -> int:
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

    def get_fieldsets(self, request: HttpRequest, obj: Connector | None = None) -> list:
        # Below ops staff, options and the base URL may carry keys: shown masked, read-only.
        fieldsets = super().get_fieldsets(request, obj)
        if sees_secret_options(request.user):
            return fieldsets
        shown = {"options": "options_shown", "base_url": "base_url_shown"}
        return [
            (name, {**spec, "fields": [shown.get(field, field) for field in spec["fields"]]})
            for name, spec in fieldsets
        ]

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
        super().save_model(request, obj, form, change)
        forget_mapping_state()
        enqueue_connector_pushes(obj.connector_id, [obj.variant_id])


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
    readonly_fields = [
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
    ]
    fields = readonly_fields


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
    readonly_fields = [
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
    ]
    fields = readonly_fields


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
    count = queryset.filter(resolved_at__isnull=True).update(resolved_at=timezone.now())
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
