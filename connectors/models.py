"""The sync engine's tables: connectors, mappings, inbox, outbox, runs and problems.

Guarantees kept by the database itself:
- one pending outbox row per (connector, variant) (partial unique index), so every stock
  change of a SKU coalesces into the row already waiting, and a row is never pushed twice
  at once (claims are leased with `claimed_until`);
- one inbox row per (connector, delivery id) when the store sends an id, so a duplicate
  delivery is stored, and applied, once;
- one SKU mapping per (connector, variant) and per (connector, remote id).

`Connector.credentials` and `Connector.webhook_secret` are write-only: no admin page, API
answer or log line shows them back (`__str__`/`repr` never include them). Their columns hold
Fernet tokens (inventory_hub/encryption.py): reading a row decrypts them.
"""

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

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

    @property
    def store_owns_stock(self) -> bool:
        if self.is_store_owned is not None:
            return self.is_store_owned
        return self.connector.ownership == Ownership.STORE


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


class SyncRunKind(models.TextChoices):
    PULL = "pull", "Pull"
    PUSH = "push", "Push"
    POLL = "poll", "Poll"
    RECONCILE = "reconcile", "Reconcile"
    WATCHDOG = "watchdog", "Webhook watchdog"
    TEST = "test", "Test connection"
    INBOUND = "inbound", "Inbound processing"
    SETUP = "setup", "Setup (SKU matching, webhooks)"


class SyncRun(models.Model):
    """One exchange with a store: the sync log (latency, counts, outcome)."""

    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="sync_runs")
    kind = models.CharField(max_length=12, choices=SyncRunKind.choices)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    is_ok = models.BooleanField(null=True)
    item_count = models.PositiveIntegerField(default=0, help_text="Items considered.")
    changed_count = models.PositiveIntegerField(default=0, help_text="Items sent or applied.")
    failed_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["connector", "kind", "started_at"], name="syncrun_recent")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} {self.connector_id} ok={self.is_ok}"


class ReconciliationReport(models.Model):
    """What one reconciliation found: SKUs checked, drifted, corrected, unmapped."""

    connector = models.ForeignKey(
        Connector, on_delete=models.CASCADE, related_name="reconciliation_reports"
    )
    sync_run = models.OneToOneField(
        SyncRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="report"
    )
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    is_ok = models.BooleanField(null=True)
    error = models.TextField(blank=True)
    checked = models.PositiveIntegerField(default=0)
    drifted = models.PositiveIntegerField(default=0)
    corrected = models.PositiveIntegerField(default=0)
    unmapped = models.JSONField(
        default=list, blank=True, help_text='[{"side": "hub"|"store", "sku": …, …}]'
    )
    details = models.JSONField(default=list, blank=True, help_text="Per-SKU findings.")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.connector_id} {self.created_at:%Y-%m-%d %H:%M}"


class SyncProblemKind(models.TextChoices):
    PUSH_FAILED = "push_failed", "Push failed"
    PUSH_REJECTED = "push_rejected", "Push rejected by the store"
    AUTH_FAILED = "auth_failed", "Store refused the credentials"
    CIRCUIT_OPEN = "circuit_open", "Circuit breaker opened"
    BAD_SIGNATURE = "bad_signature", "Inbound delivery with a bad signature"
    MALFORMED_INBOUND = "malformed_inbound", "Malformed inbound delivery"
    DEAD_LETTER = "dead_letter", "Inbound event dead-lettered"
    DRIFT = "drift", "Store changed stock the hub owns"
    UNMAPPED = "unmapped", "SKU without a mapping"
    WEBHOOK_DISABLED = "webhook_disabled", "Store disabled a webhook"
    WEBHOOK_PAUSED = "webhook_paused", "Merchant paused a hub webhook"
    WEBHOOK_MISSING = "webhook_missing", "Hub webhook missing on the store"
    POLL_FAILED = "poll_failed", "Polling the store failed"
    RECONCILE_FAILED = "reconcile_failed", "Reconciliation failed"
    SETUP_FAILED = "setup_failed", "Setup failed"
    STOCK_UNMAPPED = "stock_unmapped", "Hub channel not mapped to a Magento stock"
    OTHER = "other", "Other"


class SyncProblem(models.Model):
    """Something ops should know about a connector; the alerts issue turns these into alerts.

    One open problem per (connector, kind, subject): a repeat bumps `count` and
    `last_seen_at` and keeps the latest message and details (`record_problem`).
    """

    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="problems")
    kind = models.CharField(max_length=20, choices=SyncProblemKind.choices)
    subject = models.CharField(
        max_length=255, blank=True, default="", help_text="What it is about; empty: the store."
    )
    message = models.TextField()
    details = models.JSONField(default=dict, blank=True)
    count = models.PositiveIntegerField(default=1, help_text="Times seen while open.")
    created_at = models.DateTimeField(default=timezone.now, help_text="First seen.")
    last_seen_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["connector", "kind", "subject"],
                condition=Q(resolved_at__isnull=True),
                name="syncproblem_one_open",
            ),
        ]
        indexes = [
            models.Index(
                fields=["connector", "kind"],
                condition=Q(resolved_at__isnull=True),
                name="syncproblem_open",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind}: {self.message[:60]}"


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
        variant = self.variant.sku if self.variant_id else "every SKU"
        channel = self.channel.code if self.channel_id else "every channel"
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
