from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from warehouses.models import code_validator


class BackorderPolicy(models.TextChoices):
    DENY = "deny", "Do not allow"
    ALLOW = "allow", "Allow"
    ALLOW_AND_NOTIFY = "allow_notify", "Allow, and tell the customer"


def validate_attributes(value: object) -> None:
    if not isinstance(value, dict):
        raise ValidationError("Attributes must be an object of name → text.")
    for key, item in value.items():
        if not isinstance(key, str) or not key or not isinstance(item, str):
            raise ValidationError(f"Attribute {key!r} must map a name to text.")


class Product(models.Model):
    """A style, such as 'Percale sheet set'; what is stocked are its variants."""

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Variant(models.Model):
    """A stock-keeping unit: one size / colour / material of a product."""

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="variants")
    sku = models.CharField(max_length=64, unique=True, validators=[code_validator])
    attributes = models.JSONField(
        default=dict,
        blank=True,
        validators=[validate_attributes],
        help_text='Structured attributes, e.g. {"size": "queen", "colour": "white"}.',
    )
    barcode = models.CharField(max_length=64, blank=True)
    manage_stock = models.BooleanField(
        default=True, help_text="Off: the hub does not count this item and never limits sales."
    )
    backorders = models.CharField(
        max_length=20, choices=BackorderPolicy.choices, default=BackorderPolicy.DENY
    )
    low_stock_threshold = models.PositiveIntegerField(
        default=5, help_text="Default for every warehouse that sets none of its own."
    )
    unit_cost = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text="What one unit is worth in stock (its cost); values stock in transit.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["sku"]
        constraints = [
            models.UniqueConstraint(
                fields=["barcode"], condition=~Q(barcode=""), name="variant_barcode_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.sku

    @property
    def allows_backorders(self) -> bool:
        return self.backorders != BackorderPolicy.DENY

    @property
    def attribute_summary(self) -> str:
        return " / ".join(str(value) for value in self.attributes.values())
