"""Forms of the live pages. Stock-changing forms only shape input: the services decide."""

from typing import cast

from django import forms
from django.utils import timezone

from stock.errors import InactiveWarehouse, InsufficientStock, StockError
from stock.models import ForcedStatus, ReasonCode, StockStatus
from stock.services.ledger import MAX_QUANTITY
from warehouses.models import SalesChannel, Warehouse

ADJUST_REASONS = [
    ReasonCode.PURCHASE_ORDER,
    ReasonCode.CUSTOMER_RETURN,
    ReasonCode.DAMAGED,
    ReasonCode.WRITTEN_OFF,
    ReasonCode.LOST,
    ReasonCode.FOUND,
    ReasonCode.CORRECTION,
    ReasonCode.OTHER,
]
COUNT_REASONS = [
    ReasonCode.CYCLE_COUNT,
    ReasonCode.STOCKTAKE,
    ReasonCode.CORRECTION,
    ReasonCode.OTHER,
]
MAX_NOTE_LENGTH = 1000


def _reason_choices(reasons: list[ReasonCode]) -> list[tuple[str, str]]:
    return [("", "Choose a reason…"), *((reason.value, reason.label) for reason in reasons)]


class WarehouseChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Warehouse) -> str:
        return f"{obj.code} — {obj.name}"


class StockServiceForm(forms.Form):
    """Input for one stock service; a refusal from the service lands next to its field."""

    # The services name their own fields ("delta", "counted"); most match ours. Looked up
    # with an error's field, which may be None.
    service_fields: dict[str | None, str] = {}
    quantity_field: str  # set by each form: where a shortage is reported

    warehouse = WarehouseChoiceField(queryset=Warehouse.objects.none(), empty_label=None)
    reason = forms.ChoiceField()
    note = forms.CharField(
        required=False,
        max_length=MAX_NOTE_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required when the reason is “Other”.",
    )

    def __init__(self, *args, warehouses, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["warehouse"]).queryset = warehouses

    def clean(self) -> dict:
        super().clean()
        data = self.cleaned_data  # what Form.clean returns, typed as a dict
        if data.get("reason") == ReasonCode.OTHER and not data.get("note", "").strip():
            self.add_error("note", "Explain the change: the reason “Other” needs a note.")
        return data

    def add_service_error(self, error: StockError) -> None:
        field = error.details.get("field")
        field = self.service_fields.get(field, field)
        if isinstance(error, InsufficientStock):
            field = self.quantity_field
        elif isinstance(error, InactiveWarehouse):
            field = "warehouse"
        self.add_error(field if field in self.fields else None, error.message)


class AdjustForm(StockServiceForm):
    quantity_field = "delta"
    field_order = ["warehouse", "delta", "reason", "note"]

    delta = forms.IntegerField(
        label="Change on hand by",
        min_value=-MAX_QUANTITY,
        max_value=MAX_QUANTITY,
        help_text="A signed whole number: 5 adds five units, -3 removes three.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["reason"]).choices = _reason_choices(ADJUST_REASONS)

    def clean_delta(self) -> int:
        delta = self.cleaned_data["delta"]
        if delta == 0:
            raise forms.ValidationError("Enter a change other than zero.")
        return delta


class CountForm(StockServiceForm):
    quantity_field = "counted"
    field_order = ["warehouse", "counted", "reason", "note"]

    counted = forms.IntegerField(
        label="Counted on hand",
        min_value=0,
        max_value=MAX_QUANTITY,
        help_text="What is on the shelf now; the difference is recorded as the variance.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["reason"]).choices = _reason_choices(COUNT_REASONS)
        self.fields["reason"].initial = ReasonCode.CYCLE_COUNT


class ChannelChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: SalesChannel) -> str:
        return obj.name


class ForceStatusForm(forms.Form):
    channel = ChannelChoiceField(
        queryset=SalesChannel.objects.order_by("code"),
        required=False,
        empty_label="All channels",
        label="Channel",
    )
    status = forms.ChoiceField(
        choices=[("", "Choose…"), *ForcedStatus.Forced.choices], label="Show as"
    )
    reason = forms.CharField(max_length=255, label="Reason")
    expires_at = forms.DateTimeField(
        required=False,
        label="Until (optional)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
        help_text="Empty: until someone ends it. In UTC.",
    )

    def clean_expires_at(self):
        expires_at = self.cleaned_data["expires_at"]
        if expires_at is not None and expires_at <= timezone.now():
            raise forms.ValidationError("Pick a moment in the future.")
        return expires_at

    def add_service_error(self, error: StockError) -> None:
        field = error.details.get("field")
        self.add_error(field if field in self.fields else None, error.message)


class ClearForcedStatusForm(forms.Form):
    channel = forms.ModelChoiceField(queryset=SalesChannel.objects.order_by("code"), required=False)
    reason = forms.CharField(
        max_length=ForcedStatus._meta.get_field("end_reason").max_length,
        label="Why end it?",
        error_messages={"required": "Say why the override ends: the reason is kept with it."},
    )

    def add_service_error(self, error: StockError) -> None:
        field = error.details.get("field")
        self.add_error(field if field in self.fields else None, error.message)


class StockFilterForm(forms.Form):
    """The stock table's query string. Anything malformed falls back to its default."""

    SORTS = ("sku", "product", "warehouse", "on_hand", "reserved", "available", "inbound")
    PAGE_SIZES = (25, 50, 100)

    q = forms.CharField(required=False, max_length=64, strip=True)
    warehouse = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    channel = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *StockStatus.choices])
    sort = forms.ChoiceField(
        required=False,
        choices=[(f"{sign}{name}", name) for name in SORTS for sign in ("", "-")],
    )
    page = forms.IntegerField(required=False, min_value=1, max_value=100_000)
    size = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=None,
        choices=[(str(size), str(size)) for size in PAGE_SIZES],
    )

    def __init__(self, data, *, warehouses, channels) -> None:
        super().__init__(data)
        cast(forms.ChoiceField, self.fields["warehouse"]).choices = [("", "All warehouses")] + [
            (str(w.pk), f"{w.code} — {w.name}") for w in warehouses
        ]
        cast(forms.ChoiceField, self.fields["channel"]).choices = [("", "All channels")] + [
            (str(c.pk), c.name) for c in channels
        ]

    def values(self) -> dict:
        """Every field, cleaned; a field that did not validate takes its default."""
        self.is_valid()
        defaults = {
            "q": "",
            "warehouse": None,
            "channel": None,
            "status": "",
            "sort": "sku",
            "page": 1,
            "size": 50,
        }
        cleaned = getattr(self, "cleaned_data", {})
        return {
            name: cleaned[name]
            if name not in self.errors and cleaned.get(name) not in (None, "")
            else default
            for name, default in defaults.items()
        }
