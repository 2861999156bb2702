"""Celery entry points of the sync features: take ids, call the job, return.

Every job holds its connector's lock for its kind (a second run at once returns "busy")
and is safe to repeat: polls and reconciliations go through the idempotent inbound path,
setup only adds what is missing, the watchdog only re-activates. Hence `acks_late=True`.
Registered through `connectors.tasks`, which imports this module. The jobs queue these
tasks by name (`connectors.dispatch`), never by importing this module.
"""

from __future__ import annotations

from celery import shared_task

from connectors.models import Connector
from connectors.sync.polling import (
    due_connector_ids,
    due_order_poll_ids,
    poll_connector,
    poll_orders,
)
from connectors.sync.reconcile import reconcile_connector, start_reconciliation
from connectors.sync.setup import SetupBusy, set_up_connector
from connectors.sync.watchdog import check_webhooks, watched_connector_ids


@shared_task(acks_late=True, ignore_result=True)
def poll_connector_task(connector_id: int, full: bool = False) -> str:

    return poll_connector(connector_id=connector_id, full=full).status


@shared_task(acks_late=True, ignore_result=True)
def sweep_polls_task() -> int:
    """Beat: queue a poll for each connector whose poll interval has passed."""

    connector_ids = due_connector_ids()
    for connector_id in connector_ids:
        poll_connector_task.delay(connector_id)
    return len(connector_ids)


@shared_task(acks_late=True, ignore_result=True)
def poll_orders_task(connector_id: int) -> str:

    return poll_orders(connector_id=connector_id).status


@shared_task(acks_late=True, ignore_result=True)
def sweep_order_polls_task() -> int:
    """Beat, every second or two: queue an orders read for each connector that asks for
    one and whose order poll interval has passed."""

    connector_ids = due_order_poll_ids()
    for connector_id in connector_ids:
        poll_orders_task.delay(connector_id)
    return len(connector_ids)


@shared_task(acks_late=True, ignore_result=True)
def reconcile_connector_task(connector_id: int, report_id: int | None = None) -> int:

    return reconcile_connector(connector_id=connector_id, report_id=report_id).pk


@shared_task(acks_late=True, ignore_result=True)
def reconcile_all_task() -> int:
    """Beat, nightly: a reconciliation of every active connector, each its own task."""
    connector_ids = list(
        Connector.objects.filter(is_active=True).order_by("pk").values_list("pk", flat=True)
    )
    for connector_id in connector_ids:
        start_reconciliation(connector_id=connector_id)
    return len(connector_ids)


@shared_task(acks_late=True, ignore_result=True)
def set_up_connector_task(
    connector_id: int,
    match_skus: bool = True,
    map_locations: bool = False,
    register_webhooks: bool = True,
) -> int | None:

    try:
        run = set_up_connector(
            connector_id=connector_id,
            match_skus=match_skus,
            map_locations=map_locations,
            register_webhooks=register_webhooks,
        )
    except SetupBusy:
        return None
    return run.pk


@shared_task(acks_late=True, ignore_result=True)
def check_webhooks_task(connector_id: int) -> str:

    return check_webhooks(connector_id=connector_id).status


@shared_task(acks_late=True, ignore_result=True)
def watch_webhooks_task() -> int:
    """Beat: check the webhooks of every store that takes them."""

    connector_ids = watched_connector_ids()
    for connector_id in connector_ids:
        check_webhooks_task.delay(connector_id)
    return len(connector_ids)
