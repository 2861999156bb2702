"""Forms of the transfer pages. They only shape input: the transfer services decide.

A form that may be sent twice (a double click, a retry) carries a reference generated when
it is rendered: the services treat the same reference as the same transfer or receipt.
"""

import secrets
from dataclasses import dataclass
from typing import cast

from django import forms
from django.utils import timezone

from stock.services.ledger import MAX_QUANTITY
from transfers.models import RejectedDisposition, RejectionReason, TransferLine
from transfers.services import BACK_TO_SOURCE, LOST, ReceiptLineInput
from warehouses.models import Warehouse

MAX_NOTE_LENGTH = 500


def new_reference(prefix: str) -> str:
    """A reference no one typed: the date and 8 random hex digits."""
    return f"{prefix}-{timezone.localdate():%Y%m%d}-{secrets.token_hex(4).upper()}"


class WarehouseChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Warehouse) -> str:
        return f"{obj.code} — {obj.name}"


class CreateTransferForm(forms.Form):
    source = WarehouseChoiceField(queryset=Warehouse.objects.none(), label="From")
    destination = WarehouseChoiceField(queryset=Warehouse.objects.none(), label="To")
    quantity = forms.IntegerField(min_value=1, max_value=MAX_QUANTITY)
    reason = forms.CharField(required=False, max_length=200)
    reference = forms.CharField(max_length=100, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("initial", {}).setdefault("reference", new_reference("T"))
        super().__init__(*args, **kwargs)
        active = Warehouse.objects.filter(is_active=True).order_by("code")
        for name in ("source", "destination"):
            cast(forms.ModelChoiceField, self.fields[name]).queryset = active

    def clean(self) -> dict:
        super().clean()
        data = self.cleaned_data  # what Form.clean returns, typed as a dict
        source, destination = data.get("source"), data.get("destination")
        if source is not None and source == destination:
            self.add_error("destination", "Choose a warehouse other than the source.")
        return data


@dataclass(frozen=True, slots=True)
class ReceiptRow:
    """One line of the receive form: the line and its four fields."""

    line: TransferLine
    accepted: forms.BoundField
    rejected: forms.BoundField
    reason: forms.BoundField
    disposition: forms.BoundField


class ReceiveForm(forms.Form):
    """Per line: units accepted, units rejected with a reason and what becomes of them (at
    the destination, or back at the source for a cancelled transfer's return)."""

    receipt_reference = forms.CharField(max_length=100, widget=forms.HiddenInput)
    over_receipt = forms.BooleanField(
        required=False, label="This is an over-receipt: more arrived than was shipped"
    )

    def __init__(
        self, *args, lines: list[TransferLine], allow_over_receipt: bool = True, **kwargs
    ) -> None:
        kwargs.setdefault("initial", {}).setdefault("receipt_reference", new_reference("R"))
        super().__init__(*args, **kwargs)
        self.lines = lines
        if not allow_over_receipt:
            del self.fields["over_receipt"]  # a return is never an over-receipt
        for line in lines:
            prefix = f"line-{line.pk}"
            self.fields[f"{prefix}-accepted"] = forms.IntegerField(
                min_value=0, max_value=MAX_QUANTITY, initial=0, required=False, label="Accepted"
            )
            self.fields[f"{prefix}-rejected"] = forms.IntegerField(
                min_value=0, max_value=MAX_QUANTITY, initial=0, required=False, label="Rejected"
            )
            self.fields[f"{prefix}-reason"] = forms.ChoiceField(
                choices=[("", "—"), *RejectionReason.choices],
                required=False,
                label="Why rejected",
            )
            self.fields[f"{prefix}-disposition"] = forms.ChoiceField(
                choices=[
                    (RejectedDisposition.UNSELLABLE, "Keep, unsellable"),
                    (RejectedDisposition.WRITE_OFF, "Write off"),
                ],
                initial=RejectedDisposition.UNSELLABLE,
                label="Rejected units",
            )

    def rows(self) -> list[ReceiptRow]:
        return [
            ReceiptRow(
                line=line,
                accepted=self[f"line-{line.pk}-accepted"],
                rejected=self[f"line-{line.pk}-rejected"],
                reason=self[f"line-{line.pk}-reason"],
                disposition=self[f"line-{line.pk}-disposition"],
            )
            for line in self.lines
        ]

    def clean(self) -> dict:
        super().clean()
        data = self.cleaned_data  # what Form.clean returns, typed as a dict
        received = 0
        for line in self.lines:
            prefix = f"line-{line.pk}"
            rejected = data.get(f"{prefix}-rejected") or 0
            received += (data.get(f"{prefix}-accepted") or 0) + rejected
            if rejected and not data.get(f"{prefix}-reason"):
                self.add_error(f"{prefix}-reason", "Say why these units are rejected.")
        if not received and not self.errors:
            raise forms.ValidationError("Enter the units that arrived on at least one line.")
        return data

    def receipt_lines(self) -> list[ReceiptLineInput]:
        data = self.cleaned_data
        entries = []
        for line in self.lines:
            prefix = f"line-{line.pk}"
            accepted = data.get(f"{prefix}-accepted") or 0
            rejected = data.get(f"{prefix}-rejected") or 0
            if accepted + rejected == 0:
                continue
            entries.append(
                ReceiptLineInput(
                    variant=line.variant,
                    accepted=accepted,
                    rejected=rejected,
                    rejection_reason=data[f"{prefix}-reason"],
                    rejected_disposition=data[f"{prefix}-disposition"],
                )
            )
        return entries


class CloseShortForm(forms.Form):
    note = forms.CharField(
        max_length=MAX_NOTE_LENGTH,
        label="What happened to the rest?",
        error_messages={"required": "Say why the rest will not arrive: it is written off."},
    )


class CancelForm(forms.Form):
    disposition = forms.ChoiceField(
        choices=[
            (BACK_TO_SOURCE, "On their way back to the source"),
            (LOST, "Lost: write them off"),
        ],
        widget=forms.RadioSelect,
        required=False,
        label="Where are the units on the road?",
    )
    note = forms.CharField(required=False, max_length=MAX_NOTE_LENGTH, label="Note")

    def __init__(self, *args, is_on_the_road: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.is_on_the_road = is_on_the_road
        if not is_on_the_road:
            del self.fields["disposition"]

    def clean(self) -> dict:
        super().clean()
        data = self.cleaned_data  # what Form.clean returns, typed as a dict
        if self.is_on_the_road and not data.get("disposition"):
            self.add_error("disposition", "Say where the units on the road are.")
        return data
