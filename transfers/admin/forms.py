"""The form that drafts a transfer in the admin; `create_transfer` checks it once more."""

import re

from django import forms

from stock.models import Variant
from stock.services.ledger import MAX_QUANTITY
from transfers.models import Transfer
from transfers.services import TransferLineInput

# One line per SKU: "SHEET-Q 12", "SHEET-Q, 12" or "SHEET-Q x 12".
LINE = re.compile(r"^\s*(?P<sku>\S+?)\s*(?:,|\s+x\s+|\s+)\s*(?P<quantity>-?\d+)\s*$")


class TransferAddForm(forms.ModelForm):
    lines = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6, "cols": 40}),
        help_text="One line per SKU: the SKU, then the quantity (SHEET-Q 12).",
    )

    class Meta:
        model = Transfer
        fields = ["source", "destination", "reference", "reason", "notes"]

    def clean_lines(self) -> list[TransferLineInput]:
        wanted: dict[str, int] = {}
        for number, text in enumerate(self.cleaned_data["lines"].splitlines(), start=1):
            if not text.strip():
                continue
            match = LINE.match(text)
            if match is None:
                raise forms.ValidationError(f"Line {number}: write the SKU, then the quantity.")
            sku, quantity = match["sku"], int(match["quantity"])
            if sku in wanted:
                raise forms.ValidationError(f"Line {number}: {sku} is on an earlier line.")
            if not 1 <= quantity <= MAX_QUANTITY:
                raise forms.ValidationError(
                    f"Line {number}: the quantity must be from 1 to {MAX_QUANTITY}."
                )
            wanted[sku] = quantity
        if not wanted:
            raise forms.ValidationError("A transfer needs at least one line.")
        variants = Variant.objects.in_bulk(list(wanted), field_name="sku")
        unknown = [sku for sku in wanted if sku not in variants]
        if unknown:
            raise forms.ValidationError(f"Unknown SKU(s): {', '.join(unknown)}.")
        return [
            TransferLineInput(variant=variants[sku], quantity=quantity)
            for sku, quantity in wanted.items()
        ]

    def clean_reference(self) -> str:
        reference = self.cleaned_data["reference"]
        # create_transfer answers a known reference with the transfer it names; here a
        # second draft under the same reference is a mistake to show.
        if Transfer.objects.filter(source_system="hub", reference=reference).exists():
            raise forms.ValidationError(f"Transfer {reference} exists already.")
        return reference
