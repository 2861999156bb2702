from decimal import Decimal
from zoneinfo import available_timezones

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from inventory_hub.api.serializers import (
    StrictBooleanField,
    StrictIntegerField,
    StrictSerializer,
    list_item_errors,
    require_whole_items,
)
from warehouses.models import (
    ChannelWarehouse,
    SalesChannel,
    Warehouse,
    code_validator,
    validate_timezone,
)
from warehouses.services import ChannelLink

# PositiveSmallIntegerField's upper bound in PostgreSQL.
SMALLINT_MAX = 32767
MAX_LINKS = 200


class CodeField(serializers.CharField):
    """The record's code: set once on create; a PUT repeats it (a PUT is the whole record), a
    PATCH may leave it out; neither may change it."""

    def __init__(self, **kwargs):
        super().__init__(max_length=32, validators=[code_validator], **kwargs)


@extend_schema_field({"type": "string", "enum": sorted(available_timezones())})
class TimezoneField(serializers.CharField):
    """An IANA time zone name, each one listed in the schema."""

    def __init__(self, **kwargs):
        super().__init__(max_length=64, validators=[validate_timezone], **kwargs)


def check_identifier(serializer: serializers.Serializer, value: str, *, field: str, model) -> str:
    """A new identifier must be free; an existing record's may be repeated, never changed.

    Other systems (stores, connectors, spreadsheets) know the record by it.
    """
    instance = serializer.instance
    if instance is not None:
        if value != getattr(instance, field):
            raise serializers.ValidationError(f"The {field} cannot be changed.")
        return value
    if model.objects.filter(**{field: value}).exists():
        raise serializers.ValidationError(f"{value!r} is already taken.")
    return value


# --- Warehouses ------------------------------------------------------------------------------


class WarehouseOutput(serializers.ModelSerializer):
    latitude = serializers.DecimalField(
        max_digits=9, decimal_places=6, coerce_to_string=False, allow_null=True
    )
    longitude = serializers.DecimalField(
        max_digits=9, decimal_places=6, coerce_to_string=False, allow_null=True
    )

    class Meta:
        model = Warehouse
        fields = [
            "code",
            "name",
            "address",
            "latitude",
            "longitude",
            "timezone",
            "lead_time_days",
            "daily_dispatch_capacity",
            "is_active",
            "created_at",
        ]


class WarehouseInput(StrictSerializer):
    code = CodeField()
    name = serializers.CharField(max_length=120)
    address = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    latitude = serializers.DecimalField(
        required=False,
        allow_null=True,
        max_digits=9,
        decimal_places=6,
        min_value=Decimal("-90"),
        max_value=Decimal("90"),
    )
    longitude = serializers.DecimalField(
        required=False,
        allow_null=True,
        max_digits=9,
        decimal_places=6,
        min_value=Decimal("-180"),
        max_value=Decimal("180"),
    )
    timezone = TimezoneField(required=False, help_text="IANA name.")
    lead_time_days = StrictIntegerField(required=False, min_value=0, max_value=SMALLINT_MAX)
    daily_dispatch_capacity = StrictIntegerField(
        required=False, allow_null=True, min_value=0, help_text="Empty: unlimited."
    )
    is_active = StrictBooleanField(
        required=False, help_text="false retires the warehouse; it is never deleted."
    )

    def validate_code(self, value: str) -> str:
        return check_identifier(self, value, field="code", model=Warehouse)

    def validate(self, data):
        latitude = data.get("latitude", getattr(self.instance, "latitude", None))
        longitude = data.get("longitude", getattr(self.instance, "longitude", None))
        if (latitude is None) != (longitude is None):
            missing = "longitude" if longitude is None else "latitude"
            raise serializers.ValidationError(
                {missing: ["Give both latitude and longitude, or neither."]}
            )
        return data


# --- Sales channels --------------------------------------------------------------------------


class ChannelLinkOutput(serializers.ModelSerializer):
    warehouse = serializers.CharField(source="warehouse.code", help_text="Warehouse code.")

    class Meta:
        model = ChannelWarehouse
        fields = ["warehouse", "priority"]


class ChannelOutput(serializers.ModelSerializer):
    warehouses = ChannelLinkOutput(
        source="links", many=True, help_text="Stock sources, lowest priority (used first) first."
    )

    class Meta:
        model = SalesChannel
        fields = [
            "code",
            "name",
            "kind",
            "safety_buffer",
            "max_salable_quantity",
            "source_selection",
            "hold_minutes",
            "allocation_threshold",
            "allocation_minimum",
            "is_active",
            "warehouses",
            "created_at",
        ]


class ChannelLinkInput(StrictSerializer):
    warehouse = serializers.CharField(max_length=32, help_text="Warehouse code.")
    priority = StrictIntegerField(min_value=1, max_value=SMALLINT_MAX, help_text="1 is used first.")


class ChannelInput(StrictSerializer):
    code = CodeField()
    name = serializers.CharField(max_length=120)
    kind = serializers.ChoiceField(choices=SalesChannel.Kind.choices, required=False)
    safety_buffer = StrictIntegerField(
        required=False, min_value=0, help_text="Units held back from what it may sell."
    )
    max_salable_quantity = StrictIntegerField(
        required=False, allow_null=True, min_value=0, help_text="Cap per SKU; null: none."
    )
    source_selection = serializers.ChoiceField(
        choices=SalesChannel.SourceSelection.choices, required=False
    )
    hold_minutes = StrictIntegerField(
        required=False, min_value=1, help_text="How long an unpaid order holds its stock."
    )
    allocation_threshold = StrictIntegerField(
        required=False,
        allow_null=True,
        min_value=0,
        help_text=(
            "When a warehouse shared with other channels has this many units available or "
            "fewer, each channel is offered only its share of them; null: off."
        ),
    )
    allocation_minimum = StrictIntegerField(
        required=False,
        min_value=0,
        help_text="Units this channel's share never falls below while the pool has enough.",
    )
    is_active = StrictBooleanField(
        required=False, help_text="false retires the channel; it is never deleted."
    )
    # many_init is what many=True calls; djangorestframework-stubs' __init__ lacks the
    # list's min_length/max_length that DRF hands on to the ListSerializer.
    warehouses = ChannelLinkInput.many_init(
        required=False,
        max_length=MAX_LINKS,
        help_text="When given, replaces every link of the channel.",
    )

    def validate_code(self, value: str) -> str:
        return check_identifier(self, value, field="code", model=SalesChannel)

    def validate_warehouses(self, links: list[dict]) -> list[ChannelLink]:
        require_whole_items(links, ChannelLinkInput())
        codes = [link["warehouse"] for link in links]
        found = {
            warehouse.code: warehouse for warehouse in Warehouse.objects.filter(code__in=codes)
        }
        # Keyed by index, the shape DRF itself gives errors of a list's items.
        errors: dict[int, dict] = {}
        seen: set[str] = set()
        for index, code in enumerate(codes):
            if code not in found:
                errors[index] = {"warehouse": [f"No warehouse has code {code!r}."]}
            elif code in seen:
                errors[index] = {"warehouse": [f"Warehouse {code!r} is listed twice."]}
            seen.add(code)
        if errors:
            raise list_item_errors(errors)
        return [
            ChannelLink(warehouse=found[link["warehouse"]], priority=link["priority"])
            for link in links
        ]
