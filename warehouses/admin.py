from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.db.models import QuerySet
from django.http import HttpRequest

from inventory_hub.admin_kit import (
    DeactivateInsteadOfDeleteMixin,
    FixedIdentifierMixin,
    adopt_saved,
    changed_fields,
)

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


class AssignedUsersMixin(admin.ModelAdmin):
    """`assigned_users` saved through the service, not by the form's own many-to-many save."""

    filter_horizontal = ["assigned_users"]

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        users = form.cleaned_data.pop("assigned_users", None)
        super().save_related(request, form, formsets, change)
        if users is not None:
            set_assigned_users(target=form.instance, users=users)


@admin.register(Warehouse)
class WarehouseAdmin(
    FixedIdentifierMixin,
    AssignedUsersMixin,
    DeactivateInsteadOfDeleteMixin[Warehouse],
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
    FixedIdentifierMixin,
    AssignedUsersMixin,
    DeactivateInsteadOfDeleteMixin[SalesChannel],
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
        *(UserAdmin.fieldsets or ()),  # set by UserAdmin; Optional in ModelAdmin's type
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
