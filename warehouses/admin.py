from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from .models import ChannelWarehouse, SalesChannel, Warehouse
from .services import (
    CHANNEL_FIELDS,
    WAREHOUSE_FIELDS,
    ChannelLink,
    create_channel,
    create_warehouse,
    set_assigned_users,
    set_user_scope,
    update_channel,
    update_warehouse,
)


def changed_fields(obj: Model, form: forms.ModelForm, allowed: frozenset[str]) -> dict:
    """The form's changes that a service writes, with the values the form put on `obj`."""
    return {name: getattr(obj, name) for name in form.changed_data if name in allowed}


def adopt_saved(obj: Model, saved: Model) -> None:
    """Make the admin's unsaved instance the row that a create service inserted.

    The admin goes on with its own instance (its inlines, the log entry, the redirect), so
    it takes the saved row's key and every value the database filled in.
    """
    for field in obj._meta.concrete_fields:
        setattr(obj, field.attname, getattr(saved, field.attname))
    obj._state.adding = False
    obj._state.db = saved._state.db


def _set_active(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet, *, is_active: bool
) -> None:
    # One record at a time through its service, as the API's deactivate does: a warehouse
    # or channel switched off or on must reach the stores and drop cached answers. A plain
    # flag, not a balance: stock and ledger rows keep pointing at the record.
    changed = 0
    for obj in queryset.exclude(is_active=is_active).order_by("pk"):
        modeladmin.set_active(obj, is_active=is_active)
        changed += 1
    word = "Activated" if is_active else "Deactivated"
    modeladmin.message_user(
        request, f"{word} {changed} {modeladmin.opts.verbose_name_plural}.", messages.SUCCESS
    )


@admin.action(description="Deactivate selected (keeps their history)", permissions=["change"])
def deactivate(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    _set_active(modeladmin, request, queryset, is_active=False)


@admin.action(description="Activate selected", permissions=["change"])
def activate(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    _set_active(modeladmin, request, queryset, is_active=True)


class DeactivateInsteadOfDeleteMixin:
    """Records that stock history refers to are retired with `is_active`, never deleted.

    Each admin using it names the service that switches one record (`set_active`).
    """

    actions = [deactivate, activate]

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def set_active(self, obj: Model, *, is_active: bool) -> None:
        raise NotImplementedError


class CodeFixedOnceCreatedMixin:
    """The code is given once, as the API allows: stores and files know the record by it."""

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "code"] if obj is not None else fields


class ChannelWarehouseInline(admin.TabularInline):
    model = ChannelWarehouse
    fk_name = "channel"
    fields = ["warehouse", "priority", "warehouse_is_active"]
    readonly_fields = ["warehouse_is_active"]
    autocomplete_fields = ["warehouse"]
    ordering = ["priority", "warehouse__code"]
    extra = 0
    verbose_name = "stock source"
    verbose_name_plural = "stock sources (lower priority is used first)"

    def get_queryset(self, request: HttpRequest) -> QuerySet[ChannelWarehouse]:
        return super().get_queryset(request).select_related("warehouse")

    @admin.display(boolean=True, description="warehouse active")
    def warehouse_is_active(self, link: ChannelWarehouse) -> bool | None:
        return link.warehouse.is_active if link.warehouse_id else None


class WarehouseChannelInline(admin.TabularInline):
    """The channels that sell from a warehouse; edited from the channel's side."""

    model = ChannelWarehouse
    fk_name = "warehouse"
    fields = ["channel", "priority"]
    readonly_fields = ["channel", "priority"]
    extra = 0
    can_delete = False
    show_change_link = False
    verbose_name = "sales channel"
    verbose_name_plural = "sold on these channels"

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[ChannelWarehouse]:
        return super().get_queryset(request).select_related("channel")


class AssignedUsersMixin:
    """`assigned_users` saved through the service, not by the form's own many-to-many save."""

    filter_horizontal = ["assigned_users"]

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        users = form.cleaned_data.pop("assigned_users", None)
        super().save_related(request, form, formsets, change)
        if users is not None:
            set_assigned_users(target=form.instance, users=users)


@admin.register(Warehouse)
class WarehouseAdmin(
    CodeFixedOnceCreatedMixin,
    AssignedUsersMixin,
    DeactivateInsteadOfDeleteMixin,
    admin.ModelAdmin,
):
    list_display = [
        "code",
        "name",
        "timezone",
        "lead_time_days",
        "daily_dispatch_capacity",
        "has_coordinates",
        "is_active",
    ]
    list_display_links = ["code", "name"]
    list_filter = ["is_active", "links__channel", "timezone"]
    search_fields = ["code", "name", "address"]
    readonly_fields = ["created_at"]
    inlines = [WarehouseChannelInline]
    fieldsets = [
        (None, {"fields": ["code", "name", "is_active"]}),
        ("Location", {"fields": ["address", "latitude", "longitude", "timezone"]}),
        ("Logistics", {"fields": ["lead_time_days", "daily_dispatch_capacity"]}),
        ("Who may change stock here", {"fields": ["assigned_users"]}),
        ("Record", {"fields": ["created_at"]}),
    ]

    @admin.display(boolean=True, description="coordinates")
    def has_coordinates(self, warehouse: Warehouse) -> bool:
        return warehouse.has_coordinates

    def save_model(self, request: HttpRequest, obj: Warehouse, form, change: bool) -> None:
        # Through the service the API uses: switching a warehouse off or on queues pushes to
        # the stores selling from it and drops its channels' cached answers.
        if change:
            changes = changed_fields(obj, form, WAREHOUSE_FIELDS)
            if changes:
                update_warehouse(warehouse=obj, **changes)
            return
        details = {name: getattr(obj, name) for name in WAREHOUSE_FIELDS - {"name"}}
        adopt_saved(obj, create_warehouse(code=obj.code, name=obj.name, **details))

    def set_active(self, obj: Warehouse, *, is_active: bool) -> None:
        update_warehouse(warehouse=obj, is_active=is_active)


@admin.register(SalesChannel)
class SalesChannelAdmin(
    CodeFixedOnceCreatedMixin,
    AssignedUsersMixin,
    DeactivateInsteadOfDeleteMixin,
    admin.ModelAdmin,
):
    list_display = [
        "code",
        "name",
        "kind",
        "safety_buffer",
        "max_salable_quantity",
        "source_selection",
        "hold_minutes",
        "allocation_threshold",
        "is_active",
    ]
    list_display_links = ["code", "name"]
    list_filter = ["is_active", "kind", "source_selection", "links__warehouse"]
    search_fields = ["code", "name"]
    readonly_fields = ["created_at"]
    inlines = [ChannelWarehouseInline]
    fieldsets = [
        (None, {"fields": ["code", "name", "kind", "is_active"]}),
        (
            "What it may sell",
            {"fields": ["safety_buffer", "max_salable_quantity", "source_selection"]},
        ),
        (
            "Allocation of the last shared units",
            {"fields": ["allocation_threshold", "allocation_minimum"]},
        ),
        ("Orders", {"fields": ["hold_minutes"]}),
        ("Integrations selling here", {"fields": ["assigned_users"]}),
        ("Record", {"fields": ["created_at"]}),
    ]

    def save_model(self, request: HttpRequest, obj: SalesChannel, form, change: bool) -> None:
        # Through the service the API uses, so the stores concerned (those sharing its
        # warehouses too, when allocation splits them) get pushes and caches are dropped.
        if change:
            changes = changed_fields(obj, form, CHANNEL_FIELDS)
            if changes:
                update_channel(channel=obj, **changes)
            return
        details = {name: getattr(obj, name) for name in CHANNEL_FIELDS - {"name"}}
        adopt_saved(obj, create_channel(code=obj.code, name=obj.name, **details))

    def save_formset(self, request: HttpRequest, form, formset, change: bool) -> None:
        if formset.model is not ChannelWarehouse:
            super().save_formset(request, form, formset, change)
            return
        # commit=False only sorts the rows into new, changed and deleted (the change
        # message reads them); the links are then replaced by the service, like the API's.
        formset.save(commit=False)
        if not (formset.new_objects or formset.changed_objects or formset.deleted_objects):
            return
        update_channel(channel=form.instance, links=links_after(formset))

    def set_active(self, obj: SalesChannel, *, is_active: bool) -> None:
        update_channel(channel=obj, is_active=is_active)


def links_after(formset) -> list[ChannelLink]:
    """The channel's links as they stand, with the formset's additions, edits and removals.

    Starts from the rows in the database, not from the forms, so a link added elsewhere
    since the page was read is kept.
    """
    links = {
        link.pk: link
        for link in ChannelWarehouse.objects.filter(channel=formset.instance).select_related(
            "warehouse"
        )
    }
    for link in formset.deleted_objects:
        links.pop(link.pk, None)
    for link, _ in formset.changed_objects:
        links[link.pk] = link
    return [
        ChannelLink(warehouse=link.warehouse, priority=link.priority)
        for link in [*links.values(), *formset.new_objects]
    ]


class ScopedUserChangeForm(UserChangeForm):
    warehouses = forms.ModelMultipleChoiceField(
        queryset=Warehouse.objects.order_by("code"),
        required=False,
        widget=FilteredSelectMultiple("warehouses", is_stacked=False),
        help_text="Warehouse managers and integrations change stock only here.",
    )
    channels = forms.ModelMultipleChoiceField(
        queryset=SalesChannel.objects.order_by("code"),
        required=False,
        widget=FilteredSelectMultiple("channels", is_stacked=False),
        help_text="Integrations place orders on these channels and change stock at their "
        "warehouses.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["warehouses"] = list(self.instance.assigned_warehouses.all())
            self.initial["channels"] = list(self.instance.assigned_channels.all())


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class ScopedUserAdmin(UserAdmin):
    """The user admin with the user's role scope: README's "assign warehouses and channels"."""

    form = ScopedUserChangeForm
    fieldsets = [
        *UserAdmin.fieldsets,
        ("Warehouses and channels (role scope)", {"fields": ["warehouses", "channels"]}),
    ]

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        if "warehouses" in form.cleaned_data:
            set_user_scope(
                user=form.instance,
                warehouses=form.cleaned_data["warehouses"],
                channels=form.cleaned_data["channels"],
            )
