from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from inventory_hub.api.serializers import (
    StrictBooleanField,
    StrictIntegerField,
    StrictSerializer,
    is_storable_text,
)
from stock.models import BackorderPolicy, Product, Variant
from warehouses.api.serializers import check_identifier
from warehouses.models import code_validator

MAX_ATTRIBUTES = 50
MAX_ATTRIBUTE_NAME = 64
MAX_ATTRIBUTE_VALUE = 200
BIGINT_MAX = 2**63 - 1

# --- Products --------------------------------------------------------------------------------


class ProductOutput(serializers.ModelSerializer):
    variant_count = serializers.IntegerField(help_text="Variants of this product, active or not.")

    class Meta:
        model = Product
        fields = ["id", "name", "description", "is_active", "variant_count", "created_at"]


class ProductInput(StrictSerializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=20_000)
    is_active = StrictBooleanField(
        required=False, help_text="false retires the product; it is never deleted."
    )


# --- Variants --------------------------------------------------------------------------------


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {"type": "string", "maxLength": MAX_ATTRIBUTE_VALUE},
        "maxProperties": MAX_ATTRIBUTES,
        # As to_internal_value checks: not blank, no ':' (nor NUL, which jsonb cannot hold).
        "propertyNames": {
            "maxLength": MAX_ATTRIBUTE_NAME,
            "pattern": r"^[^:\x00]*[^:\s\x00][^:\x00]*$",
        },
        "example": {"size": "queen", "colour": "white", "material": "percale"},
    }
)
class AttributesField(serializers.Field):
    """A flat object of attribute name → text, e.g. {"size": "queen"}."""

    default_error_messages = {
        "not_an_object": "Must be an object of attribute name to text.",
        "too_many": f"At most {MAX_ATTRIBUTES} attributes.",
        "bad_name": (
            f"Attribute names are 1 to {MAX_ATTRIBUTE_NAME} characters, without ':' "
            "(it separates name and value in ?attribute=name:value); got {name!r}."
        ),
        "not_text": "Attribute {name!r} must be text (a JSON string).",
        "too_long": f"Attribute {{name!r}} is longer than {MAX_ATTRIBUTE_VALUE} characters.",
        # PostgreSQL's jsonb cannot hold either.
        "unstorable": "Attribute names and values may not contain null or surrogate characters.",
    }

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            self.fail("not_an_object")
        if len(data) > MAX_ATTRIBUTES:
            self.fail("too_many")
        for name, value in data.items():
            if not name.strip() or len(name) > MAX_ATTRIBUTE_NAME or ":" in name:
                self.fail("bad_name", name=name)
            if not isinstance(value, str):
                self.fail("not_text", name=name)
            if len(value) > MAX_ATTRIBUTE_VALUE:
                self.fail("too_long", name=name)
            if not is_storable_text(name) or not is_storable_text(value):
                self.fail("unstorable")
        return dict(data)

    def to_representation(self, value):
        return value


class VariantOutput(serializers.ModelSerializer):
    product = serializers.IntegerField(source="product_id", help_text="The product's id.")
    product_name = serializers.CharField(source="product.name")
    attributes = AttributesField()

    class Meta:
        model = Variant
        fields = [
            "sku",
            "product",
            "product_name",
            "attributes",
            "barcode",
            "manage_stock",
            "backorders",
            "low_stock_threshold",
            "unit_cost",
            "is_active",
            "created_at",
        ]


class VariantInput(StrictSerializer):
    sku = serializers.CharField(max_length=64, validators=[code_validator])
    product = StrictIntegerField(min_value=1, max_value=BIGINT_MAX, help_text="The product's id.")
    attributes = AttributesField(required=False)
    barcode = serializers.CharField(
        required=False, allow_blank=True, max_length=64, help_text="Unique when not empty."
    )
    manage_stock = StrictBooleanField(
        required=False, help_text="false: the hub does not count it and never limits sales."
    )
    backorders = serializers.ChoiceField(
        choices=BackorderPolicy.choices,
        required=False,
        help_text="Denying is refused (409) while some warehouse is backordered.",
    )
    low_stock_threshold = StrictIntegerField(required=False, min_value=0)
    unit_cost = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=Decimal(0),
        required=False,
        allow_null=True,
        help_text="What one unit is worth in stock; null when unknown.",
    )
    is_active = StrictBooleanField(
        required=False, help_text="false retires the variant; it is never deleted."
    )

    def validate_sku(self, value: str) -> str:
        return check_identifier(self, value, field="sku", model=Variant)

    def validate_product(self, value: int) -> Product:
        try:
            return Product.objects.get(pk=value)
        except Product.DoesNotExist:
            raise serializers.ValidationError(f"No product has id {value}.") from None

    def validate_barcode(self, value: str) -> str:
        if not value:
            return value
        taken = Variant.objects.filter(barcode=value)
        if self.instance is not None:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise serializers.ValidationError(f"Barcode {value!r} belongs to another variant.")
        return value
