"""The alert pages' forms: they check shape only; the services decide (and refuse)."""

from __future__ import annotations

from datetime import timedelta

from django import forms

from alerts.models import Condition, Rule, Severity
from connectors.models import Connector
from stock.models import Product, Variant
from warehouses.models import SalesChannel, Warehouse

SILENCE_DURATIONS = [
    ("1", "1 hour"),
    ("4", "4 hours"),
    ("24", "1 day"),
    ("168", "1 week"),
]


class SilenceForm(forms.Form):
    hours = forms.TypedChoiceField(label="For", choices=SILENCE_DURATIONS, coerce=int, initial="4")
    reason = forms.CharField(label="Reason", max_length=300)

    def duration(self) -> timedelta:
        return timedelta(hours=self.cleaned_data["hours"])


def _pairs(text: str, field: str) -> dict[str, str]:
    """`name=value` per line (or separated by commas)."""
    pairs: dict[str, str] = {}
    for part in text.replace(",", "\n").splitlines():
        part = part.strip()
        if not part:
            continue
        name, equals, value = part.partition("=")
        if not equals or not name.strip() or not value.strip():
            raise forms.ValidationError(f"Write each {field} as name=value.")
        pairs[name.strip()] = value.strip()
    return pairs


class RuleForm(forms.Form):
    name = forms.CharField(max_length=120)
    condition = forms.ChoiceField(choices=Condition.choices)
    sku = forms.CharField(label="Variant (SKU)", required=False, max_length=100)
    product = forms.ModelChoiceField(
        queryset=Product.objects.order_by("name"), required=False, empty_label="Any product"
    )
    warehouse = forms.ModelChoiceField(
        queryset=Warehouse.objects.order_by("code"), required=False, empty_label="Any warehouse"
    )
    channel = forms.ModelChoiceField(
        queryset=SalesChannel.objects.order_by("code"), required=False, empty_label="Any channel"
    )
    connector = forms.ModelChoiceField(
        queryset=Connector.objects.filter(archived_at__isnull=True).order_by("name"),
        required=False,
        empty_label="Any connector",
    )
    threshold = forms.IntegerField(required=False, min_value=-1_000_000, max_value=1_000_000)
    hysteresis = forms.IntegerField(initial=0, min_value=0, max_value=1_000_000)
    pending_seconds = forms.IntegerField(label="Pending for (seconds)", initial=0, min_value=0)
    severity = forms.ChoiceField(choices=Severity.choices, initial=Severity.WARNING)
    labels = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text="team=north"
    )
    params = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="failures=3, multiple=3, percent=5, grace_hours=0 (by condition)",
    )
    is_active = forms.BooleanField(required=False, initial=True, label="Active")

    def __init__(self, *args, rule: Rule | None = None, **kwargs) -> None:
        if rule is not None and "initial" not in kwargs:
            kwargs["initial"] = initial_of(rule)
        super().__init__(*args, **kwargs)
        if rule is not None:
            # A rule's condition never changes (a new condition is a new rule).
            self.fields["condition"].disabled = True

    def clean_sku(self) -> Variant | None:
        sku = self.cleaned_data["sku"].strip()
        if not sku:
            return None
        variant = Variant.objects.filter(sku=sku).first()
        if variant is None:
            raise forms.ValidationError(f"No variant has SKU {sku}.")
        return variant

    def clean_labels(self) -> dict[str, str]:
        return _pairs(self.cleaned_data["labels"], "label")

    def clean_params(self) -> dict[str, int]:
        pairs = _pairs(self.cleaned_data["params"], "setting")
        try:
            return {name: int(value) for name, value in pairs.items()}
        except ValueError:
            raise forms.ValidationError("Settings are whole numbers.") from None

    def rule_values(self) -> dict[str, object]:
        """What create_rule (and preview_rule) take."""
        data = self.cleaned_data
        return {
            "name": data["name"],
            "condition": data["condition"],
            "variant": data["sku"],
            "product": data["product"],
            "warehouse": data["warehouse"],
            "channel": data["channel"],
            "connector": data["connector"],
            "threshold": data["threshold"],
            "hysteresis": data["hysteresis"],
            "pending_seconds": data["pending_seconds"],
            "severity": data["severity"],
            "labels": data["labels"],
            "params": data["params"],
            "is_active": data["is_active"],
        }


def initial_of(rule: Rule) -> dict[str, object]:
    return {
        "name": rule.name,
        "condition": rule.condition,
        "sku": rule.variant.sku if rule.variant else "",
        "product": rule.product,
        "warehouse": rule.warehouse,
        "channel": rule.channel,
        "connector": rule.connector,
        "threshold": rule.threshold,
        "hysteresis": rule.hysteresis,
        "pending_seconds": rule.pending_seconds,
        "severity": rule.severity,
        "labels": "\n".join(f"{name}={value}" for name, value in rule.labels.items()),
        "params": "\n".join(f"{name}={value}" for name, value in rule.params.items()),
        "is_active": rule.is_active,
    }
