"""Lanes: created and changed through their services, never deleted (transfers refer to them;
a lane is retired with `is_active`)."""

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponseRedirect

from inventory_hub.admin_kit import adopt_saved, changed_fields
from transfers.errors import TransferError
from transfers.models import Lane
from transfers.services import create_lane, update_lane
from transfers.services.lanes import LANE_FIELDS, MAX_CAPACITY, MAX_COST, MAX_LEAD_TIME_DAYS

ROUTE_FIELDS = ("source", "destination")


class LaneForm(forms.ModelForm):
    """The lane's values, checked at the door with the limits the lane services hold to; the
    service checks them once more when it writes."""

    lead_time_days = forms.IntegerField(min_value=0, max_value=MAX_LEAD_TIME_DAYS)
    cost_per_unit = forms.DecimalField(min_value=0, max_value=MAX_COST, decimal_places=2)
    cost_per_shipment = forms.DecimalField(min_value=0, max_value=MAX_COST, decimal_places=2)
    capacity_units = forms.IntegerField(min_value=1, max_value=MAX_CAPACITY, required=False)

    class Meta:
        model = Lane
        fields = [*ROUTE_FIELDS, *sorted(LANE_FIELDS)]


class LaneRefused(Exception):
    def __init__(self, error: TransferError) -> None:
        super().__init__(error.message)
        self.error = error


@admin.register(Lane)
class LaneAdmin(admin.ModelAdmin):
    form = LaneForm
    list_display = [
        "route",
        "source",
        "destination",
        "lead_time_days",
        "cost_per_unit",
        "cost_per_shipment",
        "minimum_quantity",
        "capacity_units",
        "is_active",
    ]
    list_filter = ["is_active", "source", "destination"]
    list_select_related = ["source", "destination"]
    search_fields = ["source__code", "destination__code"]
    fieldsets = [
        ("Route", {"fields": list(ROUTE_FIELDS)}),
        ("Terms", {"fields": ["lead_time_days", "cost_per_unit", "cost_per_shipment"]}),
        ("Use", {"fields": ["minimum_quantity", "capacity_units", "is_active"]}),
    ]

    @admin.display(description="route", ordering="source__code")
    def route(self, lane: Lane) -> str:
        return f"{lane.source.code} → {lane.destination.code}"

    def get_readonly_fields(self, request: HttpRequest, obj: Lane | None = None) -> list:
        # A route is given once: transfers made on it keep pointing at it.
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, *ROUTE_FIELDS] if obj is not None else fields

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Lane, form, change: bool) -> None:
        try:
            if change:
                update_lane(lane=obj, **changed_fields(obj, form, LANE_FIELDS))
                return
            details = {name: getattr(obj, name) for name in LANE_FIELDS - {"lead_time_days"}}
            lane = create_lane(
                source=obj.source,
                destination=obj.destination,
                lead_time_days=obj.lead_time_days,
                **details,
            )
            adopt_saved(obj, lane)
        except TransferError as error:
            raise LaneRefused(error) from error

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except LaneRefused as refused:
            # changeform_view's transaction was rolled back: nothing of the form was saved.
            self.message_user(
                request, f"Nothing was saved: {refused.error.message}", messages.ERROR
            )
            return HttpResponseRedirect(request.get_full_path())
