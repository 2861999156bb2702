"""Forced stock statuses: the rules that set them and the log of each change."""

from django.db import models
from django.db.models import Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from connectors.models.connector import Connector
from stock.models import Variant
from warehouses.models import SalesChannel


class StatusRule(models.Model):
    """Names the store that owns the stock status of a SKU (or of every SKU) on a channel
    (or on every channel). When the status changes there, including a forced status, the
    hub applies it as a forced status of that scope and pushes it to the other stores.

    The most specific rule wins: (variant, channel), then (variant, every channel), then
    (every variant, channel), then (every variant, every channel).
    """

    owner = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="status_rules")
    variant = models.ForeignKey(
        Variant,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="status_rules",
        help_text="Empty: every SKU the owner maps.",
    )
    channel = models.ForeignKey(
        SalesChannel,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="status_rules",
        help_text="The scope of the forced status the hub sets; empty: every channel.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["owner", "variant", "channel"]
        constraints = [
            # One owner per scope; 0 stands for "every" (ids start at 1), so the four
            # kinds of rule share one unique index.
            models.UniqueConstraint(
                Coalesce("variant", Value(0)),
                Coalesce("channel", Value(0)),
                name="status_rule_one_owner_per_scope",
            ),
        ]

    def __str__(self) -> str:
        variant = self.variant.sku if self.variant is not None else "every SKU"
        channel = self.channel.code if self.channel is not None else "every channel"
        return f"{self.owner.name} owns the status of {variant} on {channel}"


class StatusChange(models.Model):
    """Audit: the hub changed a forced status because the store owning it said so, or
    (no rule; hub status unchanged) setup found a store forcing a status the hub replaces."""

    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="status_changes")
    channel = models.ForeignKey(
        SalesChannel,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="status_changes",
        help_text="Scope of the forced status; empty: every channel.",
    )
    connector = models.ForeignKey(
        Connector, on_delete=models.CASCADE, related_name="status_changes", help_text="Who."
    )
    rule = models.ForeignKey(
        StatusRule, on_delete=models.SET_NULL, null=True, blank=True, related_name="changes"
    )
    previous_status = models.CharField(max_length=20, blank=True, help_text="Empty: not forced.")
    new_status = models.CharField(max_length=20, blank=True, help_text="Empty: cleared.")
    store_status = models.CharField(max_length=20, blank=True, help_text="What the store showed.")
    reason = models.CharField(max_length=255, help_text="Why.")
    source = models.CharField(max_length=255, blank=True, help_text="Delivery, poll or report.")
    actor_label = models.CharField(max_length=150)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return (
            f"{self.variant_id}: {self.previous_status or 'not forced'} → "
            f"{self.new_status or 'not forced'} ({self.connector_id})"
        )
