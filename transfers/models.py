"""Transfers between warehouses: lanes, the transfer document, its lines, timeline and receipts.

Stock moves only through the ledger (`transfers.services`); these rows record what the
transfer did. Per line, at every moment (docs/adr/0010-transfers-stock-model.md):

    shipped + over_received = in_transit + accepted + rejected + lost + returned
    returned = returning + return_received

where `returning` is what is on its way back to the source (inbound there) and
`return_received` what has landed there since. `verify_ledger` checks both against the
transfer's own movements (`transfers.verification`).
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from inventory_hub.encryption import EncryptedTextField
from stock.models import Variant
from warehouses.models import Warehouse


class Lane(models.Model):
    """A route from one warehouse to another, with its lead time and costs."""

    source = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="lanes_out")
    destination = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="lanes_in")
    lead_time_days = models.PositiveIntegerField()
    cost_per_unit = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    cost_per_shipment = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    minimum_quantity = models.PositiveIntegerField(default=0)
    # Most units one shipment carries, all variants together; empty: no limit. Suggestions
    # respect it (suggestions.optimiser); transfers created by hand are not refused by it.
    capacity_units = models.PositiveIntegerField(null=True, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "destination"], name="lane_unique_route"),
            models.CheckConstraint(
                condition=~Q(source=F("destination")), name="lane_source_not_destination"
            ),
            models.CheckConstraint(
                condition=Q(cost_per_unit__gte=0, cost_per_shipment__gte=0),
                name="lane_costs_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source_id} → {self.destination_id}"


class TransferState(models.TextChoices):
    DRAFT = "draft", "Draft"
    APPROVED = "approved", "Approved (held at the source)"
    PICKED = "picked", "Picked"
    SHIPPED = "shipped", "Shipped (in transit)"
    PARTIALLY_RECEIVED = "partially_received", "Partially received"
    RECEIVED = "received", "Received"
    CLOSED_SHORT = "closed_short", "Closed short"
    CANCELLED = "cancelled", "Cancelled"


class Transfer(models.Model):
    source = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="transfers_out")
    destination = models.ForeignKey(
        Warehouse, on_delete=models.PROTECT, related_name="transfers_in"
    )
    lane = models.ForeignKey(
        Lane, on_delete=models.SET_NULL, null=True, blank=True, related_name="transfers"
    )
    source_system = models.CharField(max_length=50, default="hub")
    reference = models.CharField(max_length=100)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    requested_by_label = models.CharField(max_length=150)
    reason = models.CharField(max_length=200, blank=True)
    expected_arrival = models.DateField(null=True, blank=True)
    notes = models.TextField(blank=True)
    state = models.CharField(
        max_length=20, choices=TransferState.choices, default=TransferState.DRAFT
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    approved_at = models.DateTimeField(null=True, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    # When it is due at the destination: shipped_at + the lane's lead time (set on shipping;
    # none without a lane). Shipped and still open past it, the transfer is late.
    due_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source_system", "reference"], name="transfer_reference_unique"
            ),
            models.CheckConstraint(
                condition=~Q(source=F("destination")), name="transfer_source_not_destination"
            ),
        ]
        indexes = [
            models.Index(fields=["state"], name="transfer_state"),
            models.Index(fields=["due_at"], name="transfer_due_at"),
        ]

    def __str__(self) -> str:
        return f"Transfer {self.reference}"

    @property
    def document(self) -> str:
        """The ledger's source document of this transfer's movements."""
        return self.reference


class TransferLine(models.Model):
    transfer = models.ForeignKey(Transfer, on_delete=models.CASCADE, related_name="lines")
    variant = models.ForeignKey(Variant, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()
    shipped = models.PositiveIntegerField(default=0)
    accepted = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    lost = models.PositiveIntegerField(default=0)
    returned = models.PositiveIntegerField(default=0)
    # Units received beyond those in transit (an over-receipt): they never were on the road.
    over_received = models.PositiveIntegerField(default=0)
    # Returned units received back at the source (`receive_return`), accepted or rejected.
    return_received = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["transfer", "variant"], name="transfer_line_unique"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="transfer_line_quantity"),
            models.CheckConstraint(
                condition=Q(
                    shipped__gte=F("accepted")
                    + F("rejected")
                    + F("lost")
                    + F("returned")
                    - F("over_received")
                ),
                name="transfer_line_identity",
            ),
            models.CheckConstraint(
                condition=Q(returned__gte=F("return_received")),
                name="transfer_line_return_identity",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} of variant {self.variant_id}"

    @property
    def in_transit(self) -> int:
        return (
            self.shipped
            + self.over_received
            - self.accepted
            - self.rejected
            - self.lost
            - self.returned
        )

    @property
    def returning(self) -> int:
        """Units sent back to the source after shipping and not received there yet."""
        return self.returned - self.return_received


class TransferEvent(models.Model):
    """One entry of a transfer's timeline; appended, never changed."""

    transfer = models.ForeignKey(Transfer, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=30)
    actor_label = models.CharField(max_length=150)
    at = models.DateTimeField(default=timezone.now)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind} at {self.at:%Y-%m-%d %H:%M}"


class RejectionReason(models.TextChoices):
    DAMAGED = "damaged", "Damaged"
    WRONG_ITEM = "wrong_item", "Wrong item"
    EXPIRED = "expired", "Expired"
    OTHER = "other", "Other"


class RejectedDisposition(models.TextChoices):
    UNSELLABLE = "unsellable", "Kept as unsellable"
    WRITE_OFF = "write_off", "Written off"


class TransferReceipt(models.Model):
    transfer = models.ForeignKey(Transfer, on_delete=models.CASCADE, related_name="receipts")
    reference = models.CharField(max_length=100)
    is_over_receipt = models.BooleanField(default=False)
    # Received back at the source after a cancellation (`receive_return`), not at the
    # destination.
    is_return = models.BooleanField(default=False)
    actor_label = models.CharField(max_length=150)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["transfer", "reference"], name="transfer_receipt_reference_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"Receipt {self.reference}"


class TransferReceiptLine(models.Model):
    receipt = models.ForeignKey(TransferReceipt, on_delete=models.CASCADE, related_name="lines")
    line = models.ForeignKey(TransferLine, on_delete=models.PROTECT, related_name="receipt_lines")
    accepted = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    rejection_reason = models.CharField(max_length=20, choices=RejectionReason.choices, blank=True)
    rejected_disposition = models.CharField(
        max_length=20, choices=RejectedDisposition.choices, blank=True
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(rejected=0) | (~Q(rejection_reason="") & ~Q(rejected_disposition="")),
                name="transfer_receipt_rejection_explained",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.accepted} accepted, {self.rejected} rejected"


class WarehouseSystem(models.Model):
    """A warehouse's own system (a WMS, or a store acting as one): where the hub sends pick
    instructions, and whose signed reports (picked, shipped, received) it accepts.

    `secret` is write-only, like a connector's: its column holds a Fernet token
    (inventory_hub/encryption.py) and `__str__` never shows it. Saved through
    `transfers.services.save_warehouse_system`, which checks the URL and the secret.
    """

    warehouse = models.OneToOneField(Warehouse, on_delete=models.CASCADE, related_name="own_system")
    endpoint_url = models.URLField(max_length=500)
    secret = EncryptedTextField(help_text="Write-only: never shown back or logged.")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"System of warehouse {self.warehouse_id}"


class InstructionState(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    DEAD = "dead", "Dead (refused or retries exhausted: replay by hand)"


class TransferInstruction(models.Model):
    """An instruction due for a warehouse's system, written in the approving transaction.

    Same life as a connector's outbox row: pending until a worker claims it under a lease
    (`claimed_until`), sent once the system answers 2xx, retried with backoff on a
    transient failure, dead when refused or out of attempts. The payload is fixed when the
    row is written; every attempt sends it with the same `webhook-id`.
    """

    transfer = models.ForeignKey(Transfer, on_delete=models.CASCADE, related_name="instructions")
    system = models.ForeignKey(
        WarehouseSystem, on_delete=models.CASCADE, related_name="instructions"
    )
    kind = models.CharField(max_length=20, default="pick")
    payload = models.JSONField()
    state = models.CharField(
        max_length=10, choices=InstructionState.choices, default=InstructionState.PENDING
    )
    due_at = models.DateTimeField(default=timezone.now)
    claimed_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["transfer", "kind"], name="transfer_instruction_once_per_kind"
            ),
        ]
        indexes = [
            models.Index(
                fields=["due_at"], condition=Q(state="pending"), name="transfer_instruction_due"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} of transfer {self.transfer_id} ({self.state})"

    @property
    def message_id(self) -> str:
        """The `webhook-id` of every attempt, so the receiving system can drop a repeat."""
        return f"transfer-instruction-{self.pk}"


class WarehouseSystemReport(models.Model):
    """A report a warehouse's system sent (picked, shipped, received), kept by its
    `webhook-id` with the answer it got, so a replay is answered the same and changes
    nothing. Written with the transition it caused, or not at all."""

    system = models.ForeignKey(WarehouseSystem, on_delete=models.CASCADE, related_name="reports")
    webhook_id = models.CharField(max_length=255)
    kind = models.CharField(max_length=20)
    transfer = models.ForeignKey(Transfer, on_delete=models.CASCADE, related_name="system_reports")
    result = models.JSONField()
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["system", "webhook_id"], name="warehouse_system_report_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.webhook_id}"
