"""A connector to one store, and how it maps the hub's warehouses and SKUs onto the store.

`Connector.credentials` and `Connector.webhook_secret` are write-only: no admin page, API
answer or log line shows them back (`__str__`/`repr` never include them). Their columns hold
Fernet tokens (inventory_hub/encryption.py): reading a row decrypts them.

One SKU mapping per (connector, variant) and per (connector, remote id).
"""

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from inventory_hub.encryption import EncryptedJSONField, EncryptedTextField
from stock.models import Variant
from warehouses.models import SalesChannel, Warehouse


class ConnectorKind(models.TextChoices):
    WOOCOMMERCE = "woocommerce", "WooCommerce"
    MAGENTO = "magento", "Magento 2 (MSI)"
    PARTNER = "partner", "Generic partner (JSON webhook / CSV feed)"


class Ownership(models.TextChoices):
    HUB = "hub", "Hub owns stock (store edits are drift and get overwritten)"
    STORE = "store", "Store owns stock (its snapshots become count movements)"


class CircuitState(models.TextChoices):
    CLOSED = "closed", "Closed (pushing)"
    OPEN = "open", "Open (store down: not pushing)"
    HALF_OPEN = "half_open", "Half-open (one trial push)"


class Connector(models.Model):
    """One store, marketplace or partner system the hub keeps in sync."""

    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=20, choices=ConnectorKind.choices)
    is_active = models.BooleanField(default=True)
    base_url = models.URLField(max_length=500, blank=True)
    credentials = EncryptedJSONField(
        default=dict, blank=True, help_text="Write-only: never shown back or logged."
    )
    webhook_secret = EncryptedTextField(
        blank=True, help_text="Write-only: never shown back or logged."
    )
    options = models.JSONField(
        default=dict, blank=True, help_text="Store-specific settings (see the store class)."
    )
    channel = models.ForeignKey(
        SalesChannel,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="connectors",
        help_text="The channel whose orders this store places and whose salable quantity it shows.",
    )
    ownership = models.CharField(max_length=10, choices=Ownership.choices, default=Ownership.HUB)
    poll_interval_seconds = models.PositiveIntegerField(
        default=300, help_text="How often to poll the store (0: never)."
    )
    push_rate_per_second = models.FloatField(
        default=5.0,
        validators=[MinValueValidator(0.01)],
        help_text="At most this many push requests per second to this store.",
    )
    timeout_seconds = models.FloatField(default=10.0, validators=[MinValueValidator(0.1)])

    # Health, written by the engine.
    last_pull_at = models.DateTimeField(
        null=True, blank=True, help_text="Start of the last poll whose stock read applied all."
    )
    orders_pulled_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Start of the last poll whose orders read applied all (the orders cursor).",
    )
    # The separate, frequent orders read (option order_poll_interval_seconds) shares that
    # cursor; this says when the next one is due.
    next_order_poll_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_push_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    circuit_state = models.CharField(
        max_length=10, choices=CircuitState.choices, default=CircuitState.CLOSED
    )
    circuit_opened_at = models.DateTimeField(null=True, blank=True)
    paused_until = models.DateTimeField(
        null=True, blank=True, help_text="No pushes before this moment (the store's Retry-After)."
    )
    archived_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Archived: switched off for good, hidden from active lists, history kept.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(archived_at__isnull=True) | Q(is_active=False),
                name="connector_archived_is_off",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    def __repr__(self) -> str:
        return f"<Connector {self.pk} {self.name!r} {self.kind}>"


class LocationMapping(models.Model):
    """A hub warehouse ↔ a location on the store (Magento source code; "" for WooCommerce)."""

    connector = models.ForeignKey(
        Connector, on_delete=models.CASCADE, related_name="location_mappings"
    )
    warehouse = models.ForeignKey(
        Warehouse, on_delete=models.PROTECT, related_name="connector_locations"
    )
    location = models.CharField(max_length=64, blank=True)
    is_store_owned = models.BooleanField(
        null=True,
        blank=True,
        help_text="Overrides the connector's ownership for this warehouse; empty: inherit.",
    )

    class Meta:
        ordering = ["connector", "location"]
        constraints = [
            models.UniqueConstraint(
                fields=["connector", "warehouse"], name="connector_location_warehouse_unique"
            ),
            models.UniqueConstraint(
                fields=["connector", "location"], name="connector_location_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.connector.name}: {self.location or '(store)'} ↔ {self.warehouse.code}"


class SkuMapping(models.Model):
    """A hub variant ↔ the store's product or variation, and what the store last confirmed.

    `last_pushed` and `last_confirmed` are {location: quantity}; `last_confirmed_status` is
    {location: {"status": …, "forced_status": …}} for what is pushed besides quantities.
    `accounted` ({location: quantity}) is the hub's figure that the store's stock stands for:
    what the store would hold had it made no change the hub has not matched yet (see
    connectors/engine/accounting.py). `in_flight` ({location: delta}) is a relative push
    sent and not yet answered; `store_orders` ({order reference: {location: units}}) the
    units of the store's own open orders already counted as taken from its stock.
    `remote_updated_at` is the store's timestamp of the newest applied event (any
    location); `location_updated_at` keeps it per location ({location: ISO time}), so an
    older event for one source is recorded but never rolls stock back.
    """

    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="sku_mappings")
    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="sku_mappings")
    remote_id = models.CharField(max_length=128)
    parent_id = models.CharField(max_length=128, blank=True)
    is_managed = models.BooleanField(
        default=True, help_text="The store counts this item's quantity (WooCommerce manage_stock)."
    )
    last_pushed = models.JSONField(default=dict, blank=True)
    last_confirmed = models.JSONField(default=dict, blank=True)
    last_confirmed_status = models.JSONField(default=dict, blank=True)
    accounted = models.JSONField(default=dict, blank=True)
    in_flight = models.JSONField(default=dict, blank=True)
    store_orders = models.JSONField(default=dict, blank=True)
    last_confirmed_at = models.DateTimeField(null=True, blank=True)
    remote_updated_at = models.DateTimeField(null=True, blank=True)
    location_updated_at = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["connector", "variant"]
        constraints = [
            models.UniqueConstraint(
                fields=["connector", "variant"], name="sku_mapping_connector_variant_unique"
            ),
            models.UniqueConstraint(
                fields=["connector", "remote_id"], name="sku_mapping_connector_remote_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.connector.name}: {self.variant_id} ↔ {self.remote_id}"
