from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from warehouses.models import Warehouse

from .catalogue import Variant
from .levels import StockLevel


class MovementKind(models.TextChoices):
    RECEIPT = "receipt", "Receipt"
    ADJUSTMENT = "adjustment", "Adjustment"
    COUNT = "count", "Count"
    RESERVE = "reserve", "Reserve"
    RELEASE = "release", "Release"
    SHIP = "ship", "Ship"
    TRANSFER_OUT = "transfer_out", "Transfer out"
    TRANSFER_IN = "transfer_in", "Transfer in"
    DAMAGE = "damage", "Damage / unsellable"
    IMPORT = "import", "Import"
    CORRECTION = "correction", "Correction"


class ReasonCode(models.TextChoices):
    PURCHASE_ORDER = "purchase_order", "Purchase order received"
    CUSTOMER_RETURN = "customer_return", "Customer return"
    CYCLE_COUNT = "cycle_count", "Cycle count"
    STOCKTAKE = "stocktake", "Stocktake"
    DAMAGED = "damaged", "Damaged"
    QUALITY_CONTROL = "quality_control", "Quality control"
    RESTORED = "restored", "Returned to sellable"
    WRITTEN_OFF = "written_off", "Written off"
    LOST = "lost", "Lost or stolen"
    FOUND = "found", "Found"
    SAFETY_STOCK = "safety_stock", "Safety stock changed"
    ORDER = "order", "Customer order"
    TRANSFER = "transfer", "Transfer between warehouses"
    SYNC = "sync", "Store synchronisation"
    IMPORT = "import", "File import"
    CORRECTION = "correction", "Correction of an earlier movement"
    OTHER = "other", "Other (explain in the note)"


class MovementSource(models.TextChoices):
    """What kind of document caused a movement; with `reference` it names one exactly."""

    MANUAL = "manual", "Manual entry"
    ADMIN = "admin", "Django admin"
    API = "api", "REST API"
    CSV = "csv", "CSV file"
    ORDER = "order", "Order"
    TRANSFER = "transfer", "Transfer"
    CONNECTOR = "connector", "Connector event"
    DEMO = "demo", "Demo data"
    SYSTEM = "system", "System"


class StockMovement(models.Model):
    """One immutable row of the stock ledger.

    Deltas of every named quantity and the balances after them; a level's balance always
    equals the sum of its deltas (`manage.py verify_ledger`). The database refuses UPDATE
    and DELETE on this table (migration 0002); mistakes are fixed by a reversing movement.
    """

    # No index of their own on the three keys: the composite indexes below start with each,
    # and every index is one more insertion per ledger row on the order path.
    level = models.ForeignKey(
        StockLevel, on_delete=models.PROTECT, related_name="movements", db_index=False
    )
    # Copies of the level's variant and warehouse, for filtering the ledger without a join.
    # No database constraint of their own: the level's foreign key already proves them,
    # and each extra constraint cost a deferred check per row (a second per 10,000 rows).
    variant = models.ForeignKey(
        Variant,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="movements",
    )
    warehouse = models.ForeignKey(
        Warehouse,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="movements",
    )
    kind = models.CharField(max_length=20, choices=MovementKind.choices)
    reason = models.CharField(max_length=30, choices=ReasonCode.choices)
    note = models.TextField(blank=True)

    delta_on_hand = models.IntegerField(default=0)
    delta_reserved = models.IntegerField(default=0)
    delta_unsellable = models.IntegerField(default=0)
    delta_safety_stock = models.IntegerField(default=0)
    delta_inbound = models.IntegerField(default=0)
    on_hand_after = models.IntegerField()
    reserved_after = models.IntegerField()
    unsellable_after = models.IntegerField()
    safety_stock_after = models.IntegerField()
    inbound_after = models.IntegerField()

    actor_kind = models.CharField(max_length=20)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=150)

    source = models.CharField(max_length=20, choices=MovementSource.choices)
    document = models.CharField(
        max_length=200, blank=True, help_text="The source document: order, transfer, file, event."
    )
    reference = models.CharField(
        max_length=255,
        null=True,
        blank=True,
        help_text="Unique per source: a replayed message with the same reference is a no-op.",
    )
    occurred_at = models.DateTimeField(default=timezone.now)
    recorded_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "reference"],
                condition=Q(reference__isnull=False),
                name="movement_source_reference_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["level", "id"], name="movement_level_id"),
            models.Index(fields=["variant", "recorded_at"], name="movement_variant_time"),
            models.Index(fields=["warehouse", "recorded_at"], name="movement_wh_time"),
            models.Index(fields=["document"], name="movement_document"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} {self.variant_id}@{self.warehouse_id}"

    @property
    def available_after(self) -> int:
        held_back = self.reserved_after + self.unsellable_after + self.safety_stock_after
        return self.on_hand_after - held_back
