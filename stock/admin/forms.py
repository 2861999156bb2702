"""Admin forms whose input a stock service checks once more."""

from collections.abc import Sequence
from typing import cast

from django import forms
from django.contrib.admin.widgets import AdminSplitDateTime
from django.db import models

from stock.actors import Actor
from stock.admin.common import scope_label
from stock.errors import ConflictExpectedOnHand, InsufficientStock, InvalidQuantity, StockError
from stock.models import ForcedStatus, MovementSource, ReasonCode, StockLevel
from stock.services import (
    ChangeOutcome,
    adjust_stock,
    count_stock,
    mark_unsellable,
    receive_stock,
    restore_sellable,
    set_safety_stock,
    write_off_unsellable,
)
from stock.services.ledger import MAX_QUANTITY
from warehouses.models import SalesChannel


class ServiceForm(forms.Form):
    """A form whose input a service checks once more; its refusal lands on the form."""

    quantity_fields: frozenset[str] = frozenset()

    def add_stock_error(self, error: StockError) -> None:
        field = error.details.get("field")
        if field in self.quantity_fields:
            field = "quantity"
        self.add_error(field if field in self.fields else None, error.message)


class Operation(models.TextChoices):
    RECEIVE = "receive", "Receive: add to on hand"
    ADJUST = "adjust", "Adjust on hand by a delta (+ or -)"
    COUNT = "count", "Count: set on hand to the counted quantity"
    MARK_UNSELLABLE = "mark_unsellable", "Mark units unsellable (damaged, quality control)"
    RESTORE_SELLABLE = "restore_sellable", "Restore unsellable units to sellable"
    WRITE_OFF_UNSELLABLE = "write_off_unsellable", "Write off unsellable units"
    SET_SAFETY_STOCK = "set_safety_stock", "Set safety stock to the quantity"


# These services record a fixed reason; the operator must still name it, and it must match.
FIXED_REASONS: dict[str | None, ReasonCode] = {  # looked up with the form's operation
    Operation.RESTORE_SELLABLE: ReasonCode.RESTORED,
    Operation.WRITE_OFF_UNSELLABLE: ReasonCode.WRITTEN_OFF,
    Operation.SET_SAFETY_STOCK: ReasonCode.SAFETY_STOCK,
}
COMPARE_AND_SET_OPERATIONS = frozenset({Operation.ADJUST, Operation.COUNT})
ZERO_ALLOWED_OPERATIONS = frozenset({Operation.COUNT, Operation.SET_SAFETY_STOCK})


class StockAdjustmentForm(ServiceForm):
    operation = forms.ChoiceField(choices=Operation.choices)
    quantity = forms.IntegerField(
        min_value=-MAX_QUANTITY,
        max_value=MAX_QUANTITY,
        help_text="Units. For an adjustment, a signed delta such as -3; for a count, the "
        "counted on-hand figure; for safety stock, the new safety stock.",
    )
    reason = forms.ChoiceField(choices=[("", "---------"), *ReasonCode.choices])
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    expected_on_hand = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_QUANTITY,
        help_text="Optional, for adjust and count: refuse if on hand is no longer this.",
    )

    quantity_fields = frozenset({"quantity", "delta", "counted", "safety_stock"})

    def __init__(self, *args, operations: Sequence[Operation] = tuple(Operation), **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["operation"]).choices = [
            (op.value, op.label) for op in operations
        ]

    def clean(self) -> dict:
        super().clean()
        data = self.cleaned_data  # what Form.clean returns, typed as a dict
        operation: str | None = data.get("operation")
        quantity = data.get("quantity")
        if operation and quantity is not None:
            if operation == Operation.ADJUST and quantity == 0:
                self.add_error("quantity", "An adjustment must not be zero.")
            elif operation in ZERO_ALLOWED_OPERATIONS and quantity < 0:
                self.add_error("quantity", "This quantity must not be negative.")
            elif operation not in ZERO_ALLOWED_OPERATIONS | {Operation.ADJUST} and quantity < 1:
                self.add_error("quantity", "This quantity must be at least 1.")
        fixed = FIXED_REASONS.get(operation)
        # `fixed` implies an operation; it is tested again for the type checker.
        if fixed and operation and data.get("reason") and data["reason"] != fixed:
            self.add_error(
                "reason",
                f"{Operation(operation).label} is always recorded as “{fixed.label}”; "
                "choose that reason.",
            )
        if data.get("reason") == ReasonCode.OTHER and not data.get("note"):
            self.add_error("note", "Explain the reason “Other” in the note.")
        if (
            operation
            and operation not in COMPARE_AND_SET_OPERATIONS
            and data.get("expected_on_hand") is not None
        ):
            self.add_error("expected_on_hand", "Only an adjustment or a count can check this.")
        return data

    def apply(self, *, level: StockLevel, actor: Actor) -> ChangeOutcome:
        data = self.cleaned_data
        operation, quantity, reason = data["operation"], data["quantity"], data["reason"]
        common = {
            "variant": level.variant,
            "warehouse": level.warehouse,
            "actor": actor,
            "note": data["note"],
            "source": MovementSource.ADMIN,
        }
        expected = data["expected_on_hand"]
        match operation:
            case Operation.RECEIVE:
                return receive_stock(**common, quantity=quantity, reason=reason)
            case Operation.ADJUST:
                return adjust_stock(
                    **common, delta=quantity, reason=reason, expected_on_hand=expected
                )
            case Operation.COUNT:
                return count_stock(
                    **common, counted=quantity, reason=reason, expected_on_hand=expected
                )
            case Operation.MARK_UNSELLABLE:
                return mark_unsellable(**common, quantity=quantity, reason=reason)
            case Operation.RESTORE_SELLABLE:
                return restore_sellable(**common, quantity=quantity)
            case Operation.WRITE_OFF_UNSELLABLE:
                return write_off_unsellable(**common, quantity=quantity)
            case Operation.SET_SAFETY_STOCK:
                return set_safety_stock(**common, quantity=quantity)
        raise ValueError(f"Unknown operation {operation!r}")

    def add_stock_error(self, error: StockError) -> None:
        field = error.details.get("field")
        if isinstance(error, ConflictExpectedOnHand):
            self.add_error("expected_on_hand", error.message)
        elif field not in self.fields and isinstance(error, InsufficientStock | InvalidQuantity):
            self.add_error("quantity", error.message)
        else:
            super().add_stock_error(error)


class ForceStatusForm(ServiceForm):
    status = forms.ChoiceField(choices=ForcedStatus.Forced.choices)
    channel = forms.ModelChoiceField(
        queryset=SalesChannel.objects.order_by("code"),
        required=False,
        empty_label="All channels",
        help_text="A channel's own override wins over the one for all channels.",
    )
    reason = forms.CharField(max_length=255)
    expires_at = forms.SplitDateTimeField(
        required=False, widget=AdminSplitDateTime, help_text="Empty: until cleared."
    )


class ClearStatusForm(ServiceForm):
    scope = forms.ChoiceField(label="Override to end")
    reason = forms.CharField(
        max_length=ForcedStatus._meta.get_field("end_reason").max_length,
        help_text="Why it ends; kept in the history of forced statuses.",
    )

    def __init__(self, *args, open_overrides: list[ForcedStatus], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # "all" for the variant-wide override: an empty choice would read as none chosen.
        self.overrides = {str(forced.channel_id or "all"): forced for forced in open_overrides}
        cast(forms.ChoiceField, self.fields["scope"]).choices = [
            (key, f"{forced.get_status_display()} on {scope_label(forced)}: {forced.reason}")
            for key, forced in self.overrides.items()
        ]

    @property
    def channel(self) -> SalesChannel | None:
        return self.overrides[self.cleaned_data["scope"]].channel


class ImportCountsForm(forms.Form):
    file = forms.FileField(
        help_text="CSV, UTF-8, header sku,warehouse,counted (optionally also reason,note), "
        "or an export with its counted column filled in."
    )
    check_only = forms.BooleanField(
        required=False, label="Only check the file", help_text="Report problems, apply nothing."
    )
