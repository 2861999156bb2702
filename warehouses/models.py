from decimal import Decimal
from zoneinfo import available_timezones

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

code_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
    "Use letters, digits, '.', '_' or '-', starting with a letter or digit.",
)


def validate_timezone(value: str) -> None:
    if value not in available_timezones():
        raise ValidationError(f"{value!r} is not a known IANA time zone.")


class Warehouse(models.Model):
    """A stock source: a place that holds physical stock (Magento MSI's 'source')."""

    code = models.CharField(max_length=32, unique=True, validators=[code_validator])
    name = models.CharField(max_length=120)
    address = models.TextField(blank=True)
    latitude = models.DecimalField(
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("-90")), MaxValueValidator(Decimal("90"))],
    )
    longitude = models.DecimalField(
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("-180")), MaxValueValidator(Decimal("180"))],
    )
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    lead_time_days = models.PositiveSmallIntegerField(
        default=1, help_text="Days from a transfer's dispatch to its arrival here."
    )
    daily_dispatch_capacity = models.PositiveIntegerField(
        null=True, blank=True, help_text="Parcels it can ship per day; empty: unlimited."
    )
    is_active = models.BooleanField(default=True)
    assigned_users = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="assigned_warehouses",
        help_text="Warehouse managers and integrations that may change stock here.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(latitude__isnull=True) & Q(longitude__isnull=True))
                | (Q(latitude__isnull=False) & Q(longitude__isnull=False)),
                name="warehouse_coordinates_both_or_neither",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.name})"

    @property
    def has_coordinates(self) -> bool:
        return self.latitude is not None and self.longitude is not None


class SalesChannel(models.Model):
    """A storefront or marketplace that sells stock from its linked warehouses."""

    class Kind(models.TextChoices):
        MAGENTO = "magento", "Magento 2 website"
        WOOCOMMERCE = "woocommerce", "WooCommerce shop"
        AMAZON = "amazon", "Amazon"
        ETSY = "etsy", "Etsy"
        LOCAL_STORE = "local_store", "Local store"
        OTHER = "other", "Other"

    class SourceSelection(models.TextChoices):
        PRIORITY = "priority", "Warehouse priority"
        DISTANCE = "distance", "Distance to the shipping address"
        MOST_STOCK = "most_stock", "Most stock"

    code = models.CharField(max_length=32, unique=True, validators=[code_validator])
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.OTHER)
    safety_buffer = models.PositiveIntegerField(
        default=0, help_text="Units held back from what this channel may sell."
    )
    max_salable_quantity = models.PositiveIntegerField(
        null=True, blank=True, help_text="Cap on the quantity shown per SKU; empty: no cap."
    )
    source_selection = models.CharField(
        max_length=20, choices=SourceSelection.choices, default=SourceSelection.PRIORITY
    )
    allocation_threshold = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=(
            "When a warehouse shared with other channels has this many units available or "
            "fewer, each channel is offered only its share of them; empty: off."
        ),
    )
    allocation_minimum = models.PositiveIntegerField(
        default=1,
        help_text="Units this channel's share never falls below while the pool has enough.",
    )
    hold_minutes = models.PositiveIntegerField(
        default=30,
        validators=[MinValueValidator(1)],
        help_text="How long an unpaid order holds its stock.",
    )
    is_active = models.BooleanField(default=True)
    # Annotated for django-stubs, which cannot infer the `through` model from its name.
    warehouses: "models.ManyToManyField[Warehouse, ChannelWarehouse]" = models.ManyToManyField(
        Warehouse, through="ChannelWarehouse", related_name="channels"
    )
    assigned_users = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="assigned_channels",
        help_text="Integrations that place orders and adjust stock for this channel.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} ({self.name})"


class ChannelWarehouse(models.Model):
    """A stock-source link: the channel sells from the warehouse; lower priority goes first."""

    channel = models.ForeignKey(SalesChannel, on_delete=models.CASCADE, related_name="links")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="links")
    priority = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1)])

    class Meta:
        ordering = ["channel", "priority", "warehouse__code"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "warehouse"], name="channel_warehouse_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel.code} ← {self.warehouse.code} (priority {self.priority})"
