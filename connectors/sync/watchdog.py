"""The webhook watchdog: WooCommerce disables a webhook after a few failed deliveries and
never retries one, so the hub checks its webhooks regularly.

For each active store that takes webhooks (WooCommerce), `check_webhooks` lists the
store's webhooks for the hub's delivery URL, re-activates any the store disabled (status
`disabled`: WooCommerce's own doing after repeated failed deliveries) and registers any
topic that is missing, recording a `webhook_disabled` or `webhook_missing` problem (the
alerts issue turns these into alerts). A webhook someone paused (status `paused`: only a
person or a plugin does that) is left as it is and reported as a `webhook_paused`
problem: the merchant decided, and polling covers what it would have delivered.
Whatever the store did while a webhook was disabled was never delivered: a poll is
queued at once to read it.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import cast

from connectors.capabilities import WebhookStore
from connectors.dispatch import POLL_CONNECTOR, connector_task
from connectors.engine.problems import record_problem, resolve_problems
from connectors.models import Connector, SyncProblemKind, SyncRun, SyncRunKind
from connectors.registry import connector_class
from connectors.sync.common import STORE_FAILURES, RunClock, describe, finish_run, open_store
from connectors.sync.locks import connector_job_lock
from connectors.sync.setup import ensure_webhook_secret, inbound_url, public_base_url
from connectors.woocommerce import DEFAULT_WEBHOOK_TOPICS

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class WatchdogReport:
    connector_id: int
    status: str = "done"  # done | busy | skipped | failed
    checked: int = 0
    reactivated: list[dict] = field(default_factory=list)
    paused: list[dict] = field(default_factory=list)
    registered: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def has_repaired(self) -> bool:
        return bool(self.reactivated or self.registered)


def takes_webhooks(connector: Connector) -> bool:
    return hasattr(connector_class(connector.kind), "register_webhooks")


def check_webhooks(*, connector_id: int) -> WatchdogReport:
    """Check and repair one store's webhooks (see the module docstring)."""
    report = WatchdogReport(connector_id=connector_id)
    with connector_job_lock("watchdog", connector_id) as acquired:
        if not acquired:
            report.status = "busy"
            return report
        connector = Connector.objects.filter(pk=connector_id, is_active=True).first()
        if connector is None or not takes_webhooks(connector) or not public_base_url():
            report.status = "skipped"
            return report
        clock = RunClock()
        run = SyncRun.objects.create(
            connector=connector, kind=SyncRunKind.WATCHDOG, started_at=clock.started_at
        )
        try:
            _check(connector, report)
        except STORE_FAILURES as exc:
            report.status = "failed"
            report.error = describe(exc)
            logger.warning("Webhook watchdog for connector %s: %s", connector.pk, report.error)
        finish_run(
            run,
            clock,
            error=report.error,
            item_count=report.checked,
            changed_count=len(report.reactivated) + len(report.registered),
            details=asdict(report),
        )
    if report.has_repaired:
        connector_task(POLL_CONNECTOR).delay(connector_id)
    return report


def _check(connector: Connector, report: WatchdogReport) -> None:
    # Run only for a kind that `takes_webhooks`.
    store = cast(WebhookStore, open_store(connector))
    url = inbound_url(connector)
    topics = tuple(getattr(store, "webhook_topics", ()) or _default_topics(store))
    hooks = [hook for hook in store.list_webhooks() if hook.delivery_url == url]
    report.checked = len(hooks)
    found_topics = {hook.topic for hook in hooks}
    for hook in hooks:
        if hook.status == "paused":
            report.paused.append({"id": hook.id, "topic": hook.topic})
        elif hook.status != "active":
            store.set_webhook_status(hook.id, "active")
            report.reactivated.append({"id": hook.id, "topic": hook.topic, "was": hook.status})
    missing = [topic for topic in topics if topic not in found_topics]
    if missing:
        ensure_webhook_secret(connector)
        store.register_webhooks(url, topics=missing, secret=connector.webhook_secret)
        report.registered = missing
    if report.reactivated:
        record_problem(
            connector_id=connector.pk,
            kind=SyncProblemKind.WEBHOOK_DISABLED,
            message=f"{connector.name} had {len(report.reactivated)} webhook(s) switched off "
            "(the store disables one after repeated failed deliveries); the hub re-enabled "
            "them and polls the store for what it missed: "
            + ", ".join(f"{item['topic']} ({item['was']})" for item in report.reactivated),
            details={"webhooks": report.reactivated, "delivery_url": url},
        )
    if report.paused:
        record_problem(
            connector_id=connector.pk,
            kind=SyncProblemKind.WEBHOOK_PAUSED,
            message=f"{connector.name} has {len(report.paused)} hub webhook(s) paused on the "
            "store, so it delivers nothing for them and the hub hears of those changes only "
            "when it polls. The hub leaves a paused webhook alone: set it active again on the "
            "store (WooCommerce > Settings > Advanced > Webhooks) to resume deliveries: "
            + ", ".join(f"{item['topic']} (#{item['id']})" for item in report.paused),
            details={"webhooks": report.paused, "delivery_url": url},
        )
    else:
        resolve_problems(connector_id=connector.pk, kinds=[SyncProblemKind.WEBHOOK_PAUSED])
    if report.registered:
        record_problem(
            connector_id=connector.pk,
            kind=SyncProblemKind.WEBHOOK_MISSING,
            message=f"{connector.name} had no webhook for {', '.join(missing)}; the hub "
            "registered them again and polls the store for what it missed.",
            details={"topics": missing, "delivery_url": url},
        )
    if not report.has_repaired:
        resolve_problems(connector_id=connector.pk, kinds=[SyncProblemKind.WEBHOOK_MISSING])


def _default_topics(store) -> tuple[str, ...]:
    return DEFAULT_WEBHOOK_TOPICS if store.kind == "woocommerce" else ()


def watched_connector_ids() -> list[int]:
    return [
        connector.pk
        for connector in Connector.objects.filter(is_active=True).order_by("pk")
        if takes_webhooks(connector)
    ]
