"""Connector setup: map SKUs (and Magento sources) by matching codes, map the hub channel
to a Magento stock, register the hub's webhooks on a WooCommerce store.

`set_up_connector` is safe to run again: it only adds what is missing (mappings for SKUs
not mapped yet, location mappings for sources not mapped yet, webhooks not registered or
not active) and reports, never skips silently, every SKU it could not map on either side.
A Magento connector's `stock_id` option is filled when unset and exactly one stock links
every source mapped to a warehouse of its channel; otherwise, or when a set `stock_id` no
longer fits the store, a `stock_unmapped` problem says why (ops set it in the admin/API).
It runs in a worker: WooCommerce pings the delivery URL while it creates a webhook and
waits for the answer, so it must not run inside a request the hub itself answers.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse

from connectors.base import Connector as StoreConnector
from connectors.capabilities import StockMappingStore
from connectors.engine.problems import record_problem, resolve_problems
from connectors.models import (
    Connector,
    LocationMapping,
    SyncProblemKind,
    SyncRun,
    SyncRunKind,
)
from connectors.selectors import location_mappings
from connectors.sync.common import (
    STORE_FAILURES,
    RunClock,
    describe,
    finish_run,
    open_store,
)
from connectors.sync.configure import InvalidConnectorSettings, update_connector
from connectors.sync.locks import connector_job_lock
from connectors.sync.setup_skus import SetupResult, map_matching_skus
from connectors.sync.stocks import StockLayout, channel_sources, stock_mapping_store
from warehouses.models import Warehouse

logger = logging.getLogger(__name__)


class SetupBusy(Exception):
    """Another setup of this connector is running."""


def public_base_url() -> str:
    """HUB_PUBLIC_BASE_URL without its trailing slash ("" when unset)."""
    return str(settings.HUB_PUBLIC_BASE_URL or "").rstrip("/")


def inbound_url(connector: Connector) -> str:
    """Where the store delivers: absolute when HUB_PUBLIC_BASE_URL is set, else the path."""
    path = reverse("connectors:inbound", args=[connector.pk])
    return f"{public_base_url()}{path}"


def has_been_set_up(connector: Connector) -> bool:
    return SyncRun.objects.filter(connector=connector, kind=SyncRunKind.SETUP, is_ok=True).exists()


def set_up_connector(
    *,
    connector_id: int,
    match_skus: bool = True,
    map_locations: bool = False,
    register_webhooks: bool = True,
) -> SyncRun:
    """Set a connector up (see the module docstring); one `setup` SyncRun records the
    outcome. Store failures make a failed run (and a `setup_failed` problem), not an error.
    Raises `SetupBusy` when another setup of the connector is running."""
    with connector_job_lock("setup", connector_id) as acquired:
        if not acquired:
            raise SetupBusy(f"Connector {connector_id} is being set up already.")
        connector = Connector.objects.select_related("channel").get(pk=connector_id)
        clock = RunClock()
        run = SyncRun.objects.create(
            connector=connector, kind=SyncRunKind.SETUP, started_at=clock.started_at
        )
        result = SetupResult()
        try:
            store = open_store(connector)
            store.test_connection()
            if map_locations:
                _map_locations(connector, store, result)
            if stock_mapping_store(store):
                _map_stock(connector, store, result)
            if match_skus:
                map_matching_skus(connector, store, run, result)
            if register_webhooks:
                _register_webhooks(connector, store, result)
        except STORE_FAILURES as exc:
            message = describe(exc)
            logger.warning("Setup of connector %s failed: %s", connector.pk, message)
            record_problem(
                connector_id=connector.pk,
                kind=SyncProblemKind.SETUP_FAILED,
                message=f"Setting up {connector.name} failed: {message}",
            )
            return finish_run(run, clock, error=message, details=result.details())
        resolve_problems(connector_id=connector.pk, kinds=[SyncProblemKind.SETUP_FAILED])
        if result.unmapped:
            record_problem(
                connector_id=connector.pk,
                kind=SyncProblemKind.UNMAPPED,
                message=f"Setup of {connector.name}: {result.unmapped_store} SKU(s) on the "
                f"store and {result.unmapped_hub} in the hub have no mapping: "
                + ", ".join(
                    entry.get("sku") or entry.get("remote_id", "") for entry in result.unmapped[:20]
                ),
                details={"sync_run": run.pk, "unmapped": result.unmapped[:500]},
            )
        return finish_run(
            run,
            clock,
            item_count=result.records,
            changed_count=len(result.created) + len(result.locations_created),
            failed_count=len(result.conflicts),
            details=result.details(),
        )


# --- Locations ------------------------------------------------------------------------------


def _map_locations(connector: Connector, store: StoreConnector, result: SetupResult) -> None:
    """Map each store source to the hub warehouse of the same code (case aside)."""
    list_sources = getattr(store, "list_sources", None)
    if list_sources is None:
        result.notes.append(f"A {connector.kind} store has no sources to map.")
        return
    existing = location_mappings(connector)
    mapped_warehouses = {mapping.warehouse_id for mapping in existing.values()}
    warehouses = {warehouse.code.lower(): warehouse for warehouse in Warehouse.objects.all()}
    for source in list_sources():
        if source.source_code in existing:
            continue
        warehouse = warehouses.get(source.source_code.lower())
        if warehouse is None or warehouse.pk in mapped_warehouses:
            result.locations_unmatched.append(source.source_code)
            continue
        try:
            with transaction.atomic():
                LocationMapping.objects.create(
                    connector=connector, warehouse=warehouse, location=source.source_code
                )
        except IntegrityError:
            result.locations_unmatched.append(source.source_code)
            continue
        mapped_warehouses.add(warehouse.pk)
        result.locations_created.append(
            {"location": source.source_code, "warehouse": warehouse.code}
        )
    if result.locations_unmatched:
        record_problem(
            connector_id=connector.pk,
            kind=SyncProblemKind.UNMAPPED,
            message=f"{connector.name}: no hub warehouse for source(s) "
            + ", ".join(result.locations_unmatched[:20]),
            details={"sources": result.locations_unmatched[:500]},
        )


# --- Channel ↔ Magento stock -------------------------------------------------------------------


def _map_stock(connector: Connector, store: StockMappingStore, result: SetupResult) -> None:
    """Check a set `stock_id` against the store, or fill it when exactly one stock fits."""
    layout = StockLayout.read(store)
    sources = channel_sources(connector)
    stock_id = store.options.stock_id
    if stock_id is not None:
        reason = layout.why_not(stock_id, sources)
        if reason:
            _stock_problem(connector, result, f"stock_id {stock_id} is wrong: {reason}.")
        else:
            _stock_mapped(connector, result, stock_id)
        return
    if connector.channel is None:  # selected with the connector: no query
        _stock_problem(connector, result, "the connector has no hub channel to map.")
        return
    if not sources:
        _stock_problem(
            connector,
            result,
            f"no Magento source is mapped to a warehouse of channel {connector.channel.code}, "
            "so no stock can be matched; map the sources first.",
        )
        return
    candidates = layout.candidates(sources)
    if len(candidates) != 1:
        found = layout.describe(candidates) if candidates else "none"
        _stock_problem(
            connector,
            result,
            f"{len(candidates)} Magento stocks link every source of channel "
            f"{connector.channel.code} ({', '.join(sorted(sources))}): {found}. "
            "Set stock_id in the connector's options.",
            candidates=candidates,
        )
        return
    fresh = Connector.objects.get(pk=connector.pk)
    try:
        update_connector(fresh, options={**(fresh.options or {}), "stock_id": candidates[0]})
    except InvalidConnectorSettings as exc:
        _stock_problem(connector, result, f"stock_id {candidates[0]} could not be saved: {exc}")
        return
    connector.options = {**(connector.options or {}), "stock_id": candidates[0]}
    _stock_mapped(connector, result, candidates[0])


def _stock_mapped(connector: Connector, result: SetupResult, stock_id: int) -> None:
    result.stock_id = stock_id
    resolve_problems(connector_id=connector.pk, kinds=[SyncProblemKind.STOCK_UNMAPPED])


def _stock_problem(
    connector: Connector, result: SetupResult, reason: str, *, candidates: Sequence[int] = ()
) -> None:
    """One open problem with the latest reason (the store's stocks may have changed)."""
    message = f"{connector.name}: hub channel not mapped to a Magento stock: {reason}"
    result.notes.append(message)
    resolve_problems(connector_id=connector.pk, kinds=[SyncProblemKind.STOCK_UNMAPPED])
    record_problem(
        connector_id=connector.pk,
        kind=SyncProblemKind.STOCK_UNMAPPED,
        message=message,
        details={"candidates": list(candidates)},
    )


# --- Webhooks -------------------------------------------------------------------------------


def _register_webhooks(connector: Connector, store: StoreConnector, result: SetupResult) -> None:
    register = getattr(store, "register_webhooks", None)
    if register is None:
        return
    base = public_base_url()
    if not base:
        message = (
            f"{connector.name}: HUB_PUBLIC_BASE_URL is not set, so the hub registered no "
            "webhooks on the store; it relies on polling until it is set and setup runs again."
        )
        result.notes.append(message)
        record_problem(
            connector_id=connector.pk,
            kind=SyncProblemKind.WEBHOOK_MISSING,
            message=message,
        )
        return
    ensure_webhook_secret(connector)
    hooks = register(inbound_url(connector), secret=connector.webhook_secret)
    result.webhooks = [
        {"id": hook.id, "topic": hook.topic, "status": hook.status} for hook in hooks
    ]
    resolve_problems(connector_id=connector.pk, kinds=[SyncProblemKind.WEBHOOK_MISSING])


def ensure_webhook_secret(connector: Connector) -> None:
    """Give the connector a random webhook secret if it has none (stores sign with it)."""
    if connector.webhook_secret:
        return
    connector.webhook_secret = secrets.token_urlsafe(32)
    Connector.objects.filter(pk=connector.pk, webhook_secret="").update(
        webhook_secret=connector.webhook_secret
    )
    connector.refresh_from_db(fields=["webhook_secret"])


__all__ = [
    "SetupBusy",
    "ensure_webhook_secret",
    "has_been_set_up",
    "inbound_url",
    "public_base_url",
    "set_up_connector",
]
