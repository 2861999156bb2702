"""What the engine did and found: sync runs, reconciliation reports and open problems."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from connectors.models.connector import Connector


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
