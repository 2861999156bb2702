from django.conf import settings
from django.db import models
from django.db.models import F, Q

from warehouses.models import SalesChannel, Warehouse

from .catalogue import Variant


class StockStatus(models.TextChoices):
    IN_STOCK = "in_stock", "In stock"
    LOW_STOCK = "low_stock", "Low stock"
    OUT_OF_STOCK = "out_of_stock", "Out of stock"
    BACKORDER = "backorder", "Backorder"


def status_for(*, available: int, threshold: int, allows_backorders: bool) -> StockStatus:
    if available <= 0:
        return StockStatus.BACKORDER if allows_backorders else StockStatus.OUT_OF_STOCK
    if available <= threshold:
        return StockStatus.LOW_STOCK
    return StockStatus.IN_STOCK


AVAILABLE = F("on_hand") - F("reserved") - F("unsellable") - F("safety_stock")


class StockLevel(models.Model):
    """The balance of one variant in one warehouse. Changed only by stock.services.

    Unsellable units are part of on hand (they are on the shelf, but damaged or in quality
    control); available is what may still be promised to an order.
    """

    # Indexed by stock_level_unique (variant, warehouse) and stock_level_wh_available
    # (warehouse, available): each update that changes `available` writes every index anew.
    variant = models.ForeignKey(
        Variant, on_delete=models.PROTECT, related_name="levels", db_index=False
    )
    warehouse = models.ForeignKey(
        Warehouse, on_delete=models.PROTECT, related_name="levels", db_index=False
    )
    on_hand = models.IntegerField(default=0)
    reserved = models.IntegerField(default=0)
    unsellable = models.IntegerField(default=0)
    safety_stock = models.IntegerField(default=0)
    inbound = models.IntegerField(default=0)
    available = models.GeneratedField(
        expression=AVAILABLE, output_field=models.IntegerField(), db_persist=True
    )
    # A copy of the variant's policy so that the database itself can refuse an oversell;
    # stock.services.catalogue keeps it in step with Variant.backorders.
    is_backorder_allowed = models.BooleanField(default=False)
    low_stock_threshold = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty: the variant's threshold applies."
    )
    # Bumped by every change; live pages drop pushes older than what they show.
    version = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["variant__sku", "warehouse__code"]
        constraints = [
            models.UniqueConstraint(fields=["variant", "warehouse"], name="stock_level_unique"),
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="stock_on_hand_gte_0"),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="stock_reserved_gte_0"),
            models.CheckConstraint(
                condition=Q(unsellable__gte=0) & Q(unsellable__lte=F("on_hand")),
                name="stock_unsellable_within_on_hand",
            ),
            models.CheckConstraint(
                condition=Q(safety_stock__gte=0), name="stock_safety_stock_gte_0"
            ),
            models.CheckConstraint(condition=Q(inbound__gte=0), name="stock_inbound_gte_0"),
            models.CheckConstraint(
                condition=Q(is_backorder_allowed=True)
                | Q(on_hand__gte=F("reserved") + F("unsellable") + F("safety_stock")),
                name="stock_available_gte_0_unless_backorder",
            ),
        ]
        indexes = [
            models.Index(fields=["warehouse", "available"], name="stock_level_wh_available"),
        ]

    def __str__(self) -> str:
        # Admin titles and breadcrumbs show this: what people call a level, not its ids.
        return f"{self.variant.sku} @ {self.warehouse.code}"

    @property
    def threshold(self) -> int:
        if self.low_stock_threshold is not None:
            return self.low_stock_threshold
        return self.variant.low_stock_threshold

    @property
    def status(self) -> StockStatus:
        return status_for(
            available=self.available,
            threshold=self.threshold,
            allows_backorders=self.is_backorder_allowed,
        )


class ForcedStatus(models.Model):
    """An override of the status a channel shows (Magento's 'Force Product Stock Status').

    The real status is always shown beside it. Rows are never deleted: ending an override
    stamps ended_at, so the history of who forced what stays readable.
    """

    class Forced(models.TextChoices):
        IN_STOCK = "in_stock", "Forced in stock"
        OUT_OF_STOCK = "out_of_stock", "Forced out of stock"

    variant = models.ForeignKey(Variant, on_delete=models.PROTECT, related_name="forced_statuses")
    channel = models.ForeignKey(
        SalesChannel,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="forced_statuses",
        help_text="Empty: applies on every channel.",
    )
    status = models.CharField(max_length=20, choices=Forced.choices)
    reason = models.CharField(max_length=255)
    actor_label = models.CharField(max_length=150)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.CharField(max_length=150, blank=True)
    # Why it was ended; empty while open (and for overrides ended before reasons were asked).
    end_reason = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "forced statuses"
        constraints = [
            # One open override per variant, and per (variant, channel).
            models.UniqueConstraint(
                fields=["variant"],
                condition=Q(channel__isnull=True, ended_at__isnull=True),
                name="forced_status_one_open_per_variant",
            ),
            models.UniqueConstraint(
                fields=["variant", "channel"],
                condition=Q(channel__isnull=False, ended_at__isnull=True),
                name="forced_status_one_open_per_variant_channel",
            ),
        ]

    def __str__(self) -> str:
        scope = self.channel.code if self.channel is not None else "all channels"
        return f"{self.variant} {self.get_status_display()} ({scope})"
