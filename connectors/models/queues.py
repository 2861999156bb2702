"""The inbox (deliveries and polled changes waiting to be applied) and the outbox (pushes
waiting to be sent).

- one pending outbox row per (connector, variant) (partial unique index), so every stock
  change of a SKU coalesces into the row already waiting, and a row is never pushed twice
  at once (claims are leased with `claimed_until`);
- one inbox row per (connector, delivery id) when the store sends an id, so a duplicate
  delivery is stored, and applied, once.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from connectors.models.connector import Connector
from stock.models import Variant


class InboxState(models.TextChoices):
    RECEIVED = "received", "Received (waiting to be processed)"
    PROCESSED = "processed", "Processed"
    IGNORED = "ignored", "Ignored (nothing the hub tracks)"
    FAILED = "failed", "Failed (will retry)"
    DEAD = "dead", "Dead letter (retries exhausted: replay by hand)"
    MALFORMED = "malformed", "Malformed (kept for inspection)"


class InboxEvent(models.Model):
    """A verified delivery from a store, stored raw before the store gets its 200."""

    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="inbox_events")
    delivery_id = models.CharField(max_length=255, blank=True)
    topic = models.CharField(max_length=120, blank=True)
    headers = models.JSONField(default=dict, blank=True, help_text="Without auth headers.")
    body = models.TextField(blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    occurred_at = models.DateTimeField(
        null=True, blank=True, help_text="The store's own timestamp of the event."
    )
    state = models.CharField(max_length=12, choices=InboxState.choices, default=InboxState.RECEIVED)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    result = models.TextField(blank=True, help_text="What processing did (or why it did not).")
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["connector", "delivery_id"],
                condition=~Q(delivery_id=""),
                name="inbox_connector_delivery_unique",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(state__in=["received", "failed"]),
                name="inbox_due",
            ),
            models.Index(fields=["connector", "state"], name="inbox_connector_state"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.topic or '-'} {self.delivery_id or ''} ({self.state})"


class OutboxState(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    DEAD = "dead", "Dead (rejected by the store)"


class OutboxItem(models.Model):
    """A variant due for a push to one connector, written in the stock change's transaction.

    Values are computed when the row is sent, not when it is written, so `change_count`
    changes coalesce into one push of the latest value.
    """

    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="outbox_items")
    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="outbox_items")
    state = models.CharField(
        max_length=10, choices=OutboxState.choices, default=OutboxState.PENDING
    )
    change_count = models.PositiveIntegerField(default=1)
    due_at = models.DateTimeField(default=timezone.now)
    claimed_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    sent_values = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["connector", "variant"],
                condition=Q(state="pending"),
                name="outbox_pending_unique",
            ),
        ]
        indexes = [
            models.Index(
                fields=["connector", "due_at"],
                condition=Q(state="pending"),
                name="outbox_pending_due",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.connector_id}/{self.variant_id} ({self.state})"
