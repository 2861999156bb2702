from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from warehouses.models import SalesChannel, Warehouse

from .catalogue import Variant
from .levels import StockLevel


class OrderStatus(models.TextChoices):
    PLACED = "placed", "Placed (held)"
    PAID = "paid", "Paid"
    PARTIALLY_SHIPPED = "partially_shipped", "Partially shipped"
    SHIPPED = "shipped", "Shipped"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"


OPEN_ORDER_STATUSES = (OrderStatus.PLACED, OrderStatus.PAID, OrderStatus.PARTIALLY_SHIPPED)
# The note on every release the hold expiry writes; the activity feed tells expiries by it.
HOLD_EXPIRED_NOTE = "hold expired"


class Order(models.Model):
    """A channel's order; its allocations hold stock until shipped, cancelled or expired."""

    # No index of its own: the unique (channel, reference) index leads with the channel.
    # No database constraint on the order's channel, the line's variant or the allocation's
    # warehouse: PostgreSQL checks one by locking the referenced row (FOR KEY SHARE), and
    # with concurrent orders on one channel, warehouse or SKU those locks pile up as
    # multixacts on that row (see BENCHMARKS.md). Django's PROTECT still refuses to delete
    # a referenced row; the allocation's warehouse is also its level's.
    channel = models.ForeignKey(
        SalesChannel,
        on_delete=models.PROTECT,
        related_name="orders",
        db_index=False,
        db_constraint=False,
    )
    reference = models.CharField(max_length=100, help_text="The store's own order number.")
    status = models.CharField(
        max_length=20, choices=OrderStatus.choices, default=OrderStatus.PLACED
    )
    shipping_latitude = models.DecimalField(
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("-90")), MaxValueValidator(Decimal("90"))],
    )
    shipping_longitude = models.DecimalField(
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("-180")), MaxValueValidator(Decimal("180"))],
    )
    # Set while placed; cleared when paid (the hold becomes firm).
    expires_at = models.DateTimeField(null=True, blank=True)
    placed_at = models.DateTimeField()
    paid_at = models.DateTimeField(null=True, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(
        null=True, blank=True, help_text="When it was cancelled or its hold expired."
    )
    actor_label = models.CharField(max_length=150)

    class Meta:
        ordering = ["-placed_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "reference"], name="order_reference_unique_per_channel"
            ),
        ]
        indexes = [
            # Matches the expiry task's claim, ORDER BY expires_at, id: without the id the
            # claim sorted the whole backlog on every batch.
            models.Index(
                fields=["expires_at", "id"],
                condition=Q(status="placed"),
                name="order_placed_expiry",
            ),
            models.Index(fields=["status", "placed_at"], name="order_status_placed"),
        ]

    def __str__(self) -> str:
        return f"{self.channel.code}/{self.reference}"

    @property
    def document(self) -> str:
        return f"order {self.channel.code}/{self.reference}"


class OrderLine(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        SHIPPED = "shipped", "Shipped"
        RELEASED = "released", "Released"

    # Indexed by order_line_unique (order, line_number).
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines", db_index=False)
    line_number = models.PositiveSmallIntegerField()
    # No database constraint: see Order.channel.
    variant = models.ForeignKey(
        Variant, on_delete=models.PROTECT, related_name="order_lines", db_constraint=False
    )
    quantity = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    backordered_quantity = models.PositiveIntegerField(
        default=0, help_text="How much of the quantity was reserved beyond the stock there was."
    )
    # A database default too: the planned path's one statement never names the column.
    short_quantity = models.PositiveIntegerField(
        default=0,
        db_default=0,
        help_text="Units a store sold that the hub could not hold (an incident to resolve): "
        "they count against what the channel may sell while the line is open.",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)

    class Meta:
        ordering = ["order", "line_number"]
        constraints = [
            models.UniqueConstraint(fields=["order", "line_number"], name="order_line_unique"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="order_line_quantity_gte_1"),
            models.CheckConstraint(
                condition=Q(short_quantity__lte=F("quantity")),
                name="order_line_short_within_quantity",
            ),
        ]
        indexes = [
            # Every salable figure subtracts its channel's open shortfalls: a handful of
            # rows, found without reading a busy SKU's thousands of order lines.
            models.Index(
                fields=["variant"],
                condition=Q(short_quantity__gt=0, status="open"),
                name="order_line_open_short",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order} line {self.line_number}"

    @property
    def is_backordered(self) -> bool:
        return self.backordered_quantity > 0

    @property
    def is_short(self) -> bool:
        return self.short_quantity > 0


class Allocation(models.Model):
    """Units of one order line held at one warehouse (a reservation)."""

    class Status(models.TextChoices):
        HELD = "held", "Held"
        SHIPPED = "shipped", "Shipped"
        RELEASED = "released", "Released"

    line = models.ForeignKey(OrderLine, on_delete=models.CASCADE, related_name="allocations")
    # No index on the level or the warehouse: every order writes an allocation, and no read
    # looks allocations up by either but the expiring holds (allocation_held_expiring).
    # Levels and warehouses are retired, never deleted, so PROTECT never has to search.
    level = models.ForeignKey(
        StockLevel, on_delete=models.PROTECT, related_name="allocations", db_index=False
    )
    # No database constraint: see Order.channel.
    warehouse = models.ForeignKey(
        Warehouse, on_delete=models.PROTECT, related_name="+", db_constraint=False, db_index=False
    )
    quantity = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.HELD)
    # A copy of the order's expiry while it is unpaid: reads skip expired holds at once,
    # long before the expiry task releases them.
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["line", "id"]
        indexes = [
            models.Index(
                fields=["level", "expires_at"],
                condition=Q(status="held", expires_at__isnull=False),
                name="allocation_held_expiring",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.line}: {self.quantity} @ {self.warehouse_id}"
