"""Transfer suggestions: the merchant's settings, forecasts per level, reviews and the
suggestions they made (docs/adr/0012-transfer-suggestions-marginal-value.md).

Only `suggestions.services` writes these rows. A suggestion becomes real only when someone
approves it: then `transfers.services` creates and approves the transfer.
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from stock.models import Variant
from transfers.models import Lane, Transfer
from warehouses.models import Warehouse


class SuggestionSettings(models.Model):
    """The merchant's one set of settings (a single row, id 1)."""

    # What one sale lost to a stockout costs the merchant (margin and goodwill), in the
    # currency of the lanes' costs: the optimiser trades it against transfer costs.
    cost_of_lost_sale = models.DecimalField(
        max_digits=12, decimal_places=2, default=Decimal("20.00"), validators=[MinValueValidator(0)]
    )
    review_days = models.PositiveIntegerField(
        default=7,
        validators=[MinValueValidator(1), MaxValueValidator(90)],
        help_text="Days between proactive reviews that a suggestion must cover.",
    )
    source_cover_days = models.DecimalField(
        max_digits=6,
        decimal_places=2,
        default=Decimal("7.00"),
        validators=[MinValueValidator(0)],
        help_text="A source keeps at least this many days of its own forecast demand.",
    )
    service_level = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        default=Decimal("0.9500"),
        validators=[MinValueValidator(Decimal("0.5")), MaxValueValidator(Decimal("0.9999"))],
        help_text="Chance of not running out within a lead time, for safety stock.",
    )
    history_days = models.PositiveIntegerField(
        default=90, validators=[MinValueValidator(14), MaxValueValidator(730)]
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "suggestion settings"

    def __str__(self) -> str:
        return "Suggestion settings"


class DemandClass(models.TextChoices):
    """Syntetos-Boylan-Croston classes by ADI (1.32) and CV² (0.49)."""

    SMOOTH = "smooth", "Smooth"
    ERRATIC = "erratic", "Erratic"
    INTERMITTENT = "intermittent", "Intermittent"
    LUMPY = "lumpy", "Lumpy"
    NO_DEMAND = "no_demand", "No demand"


class Forecast(models.Model):
    """The latest forecast of one variant's daily demand at one warehouse, and what follows
    from it: safety stock, reorder point and days of cover. Replaced on every forecast run."""

    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="+")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.CASCADE, related_name="+")
    computed_at = models.DateTimeField(default=timezone.now)
    demand_class = models.CharField(max_length=20, choices=DemandClass.choices)
    method = models.CharField(max_length=30)
    daily_demand = models.FloatField()
    # The forecast's own error (RMSE of its one-step-ahead fit), per day.
    daily_error = models.FloatField()
    history_days = models.PositiveIntegerField()
    censored_days = models.PositiveIntegerField()
    safety_stock = models.PositiveIntegerField()
    reorder_point = models.PositiveIntegerField()
    lead_time_days = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["variant", "warehouse"], name="forecast_unique_level"),
        ]

    def __str__(self) -> str:
        return f"{self.variant_id}@{self.warehouse_id}: {self.daily_demand:.2f}/day"


class ReviewKind(models.TextChoices):
    DAILY = "daily", "Daily review"
    REACTIVE = "reactive", "Reactive check"
    MANUAL = "manual", "Run by hand"


class Review(models.Model):
    """One run of the optimiser over the hub's positions."""

    kind = models.CharField(max_length=20, choices=ReviewKind.choices)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    cost_of_lost_sale = models.DecimalField(max_digits=12, decimal_places=2)
    variants_considered = models.PositiveIntegerField(default=0)
    suggestions_made = models.PositiveIntegerField(default=0)
    runtime_ms = models.PositiveIntegerField(default=0)
    # What the optimiser reports of its own run: candidates, lanes closed by the gate, solves.
    stats = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.started_at:%Y-%m-%d %H:%M}"


class SuggestionState(models.TextChoices):
    OPEN = "open", "Open"
    APPROVED = "approved", "Approved (transfer created)"
    DISMISSED = "dismissed", "Dismissed"
    SUPERSEDED = "superseded", "Superseded by a later review"


class Suggestion(models.Model):
    """One proposed move of a variant along a lane, with its reason."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="suggestions")
    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="+")
    source = models.ForeignKey(Warehouse, on_delete=models.CASCADE, related_name="+")
    destination = models.ForeignKey(Warehouse, on_delete=models.CASCADE, related_name="+")
    lane = models.ForeignKey(Lane, on_delete=models.CASCADE, related_name="+")
    quantity = models.PositiveIntegerField()
    expected_arrival = models.DateField()
    # Expected lost sales avoided, in money, and the lane's cost of this line (its unit
    # costs plus its share of the shipment cost).
    value = models.DecimalField(max_digits=14, decimal_places=2)
    cost = models.DecimalField(max_digits=14, decimal_places=2)
    # The structured reason (suggestions.optimiser.Reason as a dict) and its sentence.
    reason = models.JSONField()
    reason_text = models.TextField()
    # What the situation was (positions and forecasts, rounded): a dismissal holds until it
    # changes.
    situation_key = models.CharField(max_length=64)
    state = models.CharField(
        max_length=20, choices=SuggestionState.choices, default=SuggestionState.OPEN
    )
    transfer = models.ForeignKey(
        Transfer, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_by_label = models.CharField(max_length=150, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="suggestion_quantity_gt_0"),
            # One open suggestion per variant and route: a new review supersedes the old.
            models.UniqueConstraint(
                fields=["variant", "source", "destination"],
                condition=Q(state="open"),
                name="suggestion_one_open_per_route",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "lane"], name="suggestion_state_lane"),
            models.Index(
                fields=["variant", "source", "destination", "situation_key"],
                name="suggestion_situation",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.variant_id}: {self.source_id} → {self.destination_id}"
