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
from collections import defaultdict
from dataclasses import asdict, dataclass, field

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from connectors.base import Connector as StoreConnector
from connectors.base import RemoteStock
from connectors.engine.problems import record_problem, resolve_problems
from connectors.inbound.rules.snapshots import apply_remote_stock
from connectors.models import (
    Connector,
    LocationMapping,
    SkuMapping,
    SyncProblemKind,
    SyncRun,
    SyncRunKind,
)
from connectors.outbox import enqueue_connector_pushes, forget_mapping_state
from connectors.registry import PushMode, kind_spec
from connectors.selectors import desired_push_items, location_mappings, location_store_owned
from connectors.sync.common import (
    LIST_LIMIT,
    STORE_FAILURES,
    RunClock,
    describe,
    finish_run,
    open_store,
    unmapped_hub_variants,
)
from connectors.sync.configure import InvalidConnectorSettings, update_connector
from connectors.sync.locks import connector_job_lock
from connectors.sync.status import (
    owned_scopes,
    propagate_store_statuses,
    record_status_replaced,
    rules_involving,
)
from connectors.sync.stocks import StockLayout, channel_sources, stock_mapping_store
from stock.models import Variant
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


@dataclass(slots=True)
class SetupResult:
    records: int = 0
    created: list[dict] = field(default_factory=list)
    already_mapped: int = 0
    conflicts: list[dict] = field(default_factory=list)
    unmapped: list[dict] = field(default_factory=list)  # store side, then hub side
    unmapped_store: int = 0
    unmapped_hub: int = 0
    counted: int = 0
    locations_created: list[dict] = field(default_factory=list)
    locations_unmatched: list[str] = field(default_factory=list)
    webhooks: list[dict] = field(default_factory=list)
    stock_id: int | None = None  # the Magento stock mapped to the hub channel
    forced_taken: list[dict] = field(default_factory=list)  # store owns the status: the hub's now
    forced_replaced: list[dict] = field(default_factory=list)  # hub owns it: audited, pushed over
    notes: list[str] = field(default_factory=list)

    def details(self) -> dict:
        data = asdict(self)
        for name in ("created", "conflicts", "unmapped"):
            data[name] = data[name][:LIST_LIMIT]
        data["created_count"] = len(self.created)
        return data


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
                _match_skus(connector, store, run, result)
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


def _map_stock(connector: Connector, store: StoreConnector, result: SetupResult) -> None:
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
    if connector.channel_id is None:
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
    connector: Connector, result: SetupResult, reason: str, *, candidates: list[int] = ()
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


# --- SKUs -----------------------------------------------------------------------------------


def _match_skus(
    connector: Connector, store: StoreConnector, run: SyncRun, result: SetupResult
) -> None:
    by_remote: dict[str, list[RemoteStock]] = defaultdict(list)
    for record in store.pull_stock():
        result.records += 1
        by_remote[record.remote_id].append(record)
    skus = {records[0].sku for records in by_remote.values() if records[0].sku}
    variants = {variant.sku: variant for variant in Variant.objects.filter(sku__in=skus)}
    mapped = SkuMapping.objects.filter(connector=connector)
    mapped_remote = dict(mapped.values_list("remote_id", "variant_id"))
    mapped_variant = dict(mapped.values_list("variant_id", "remote_id"))
    claimed: dict[str, str] = {}  # sku -> remote id, within this store
    wanted: list[tuple[SkuMapping, list[RemoteStock]]] = []
    for remote_id, records in sorted(by_remote.items()):
        first = records[0]
        variant = variants.get(first.sku) if first.sku else None
        if variant is None:
            result.unmapped_store += 1
            result.unmapped.append(
                {
                    "side": "store",
                    "sku": first.sku,
                    "remote_id": remote_id,
                    "reason": "no_sku" if not first.sku else "unknown_sku",
                }
            )
            continue
        if remote_id in mapped_remote:
            if mapped_remote[remote_id] == variant.pk:
                result.already_mapped += 1
            else:
                result.conflicts.append(
                    {"sku": first.sku, "remote_id": remote_id, "reason": "remote_id_mapped"}
                )
            continue
        if variant.pk in mapped_variant:
            result.conflicts.append(
                {
                    "sku": first.sku,
                    "remote_id": remote_id,
                    "reason": "sku_mapped_elsewhere",
                    "mapped_remote_id": mapped_variant[variant.pk],
                }
            )
            continue
        if first.sku in claimed:
            result.conflicts.append(
                {
                    "sku": first.sku,
                    "remote_id": remote_id,
                    "reason": "sku_on_several_store_items",
                    "mapped_remote_id": claimed[first.sku],
                }
            )
            continue
        claimed[first.sku] = remote_id
        wanted.append((_new_mapping(connector, variant, records), records))

    created = _create_mappings(wanted, result)
    if created:
        forget_mapping_state()
        if store.reports_forced_status:
            _forced_statuses_found(connector, run, created, result)
        _first_sync(connector, run, created)
    result.unmapped_hub, hub_side = unmapped_hub_variants(connector)
    result.unmapped.extend(hub_side)


def _new_mapping(connector: Connector, variant: Variant, records: list[RemoteStock]) -> SkuMapping:
    """A mapping that already knows what the store holds, so the first push sends only
    the values that differ, and an event older than this read is recognised as stale."""
    first = records[0]
    always_status = kind_spec(connector.kind).push_mode == PushMode.PER_SOURCE
    stamps = {
        record.location: record.updated_at for record in records if record.updated_at is not None
    }
    return SkuMapping(
        connector=connector,
        variant=variant,
        remote_id=first.remote_id,
        parent_id=first.parent_id,
        is_managed=first.is_managed,
        last_confirmed={
            record.location: record.quantity for record in records if record.quantity is not None
        },
        last_confirmed_status={
            record.location: confirmed_status_record(record, always_status=always_status)
            for record in records
        },
        last_confirmed_at=timezone.now(),
        location_updated_at={location: stamp.isoformat() for location, stamp in stamps.items()},
        remote_updated_at=max(stamps.values()) if stamps else None,
    )


def _create_mappings(
    wanted: list[tuple[SkuMapping, list[RemoteStock]]], result: SetupResult
) -> list[tuple[SkuMapping, list[RemoteStock]]]:
    created = []
    for mapping, records in wanted:
        try:
            with transaction.atomic():
                mapping.save()
        except IntegrityError:
            # Mapped meanwhile (the admin, the API): the existing mapping stays.
            result.conflicts.append(
                {"sku": mapping.variant.sku, "remote_id": mapping.remote_id, "reason": "race"}
            )
            continue
        created.append((mapping, records))
        result.created.append(
            {
                "sku": mapping.variant.sku,
                "remote_id": mapping.remote_id,
                "parent_id": mapping.parent_id,
                "is_managed": mapping.is_managed,
            }
        )
    return created


def _forced_statuses_found(
    connector: Connector,
    run: SyncRun,
    created: list[tuple[SkuMapping, list[RemoteStock]]],
    result: SetupResult,
) -> None:
    """Forced statuses the merchant set on the store before the hub came: where a status
    rule lets the store own the SKU's status, the hub takes them over (a `StatusChange`
    each, through `stock.services.status`). Any other is the hub's to decide, and the first
    push replaces it: never silently, it leaves a `StatusChange` row keeping the store's
    value (hub status unchanged) and a `drift` problem naming the SKUs."""
    found = []
    for mapping, records in created:
        forced = [record for record in records if record.forced_status is not None]
        if forced:
            found.append((mapping, forced))
    if not found:
        return
    rules = rules_involving(connector)
    owned = [
        (mapping, records)
        for mapping, records in found
        if rules and owned_scopes(connector, mapping.variant_id, rules)
    ]
    foreign = [(mapping, records) for mapping, records in found if (mapping, records) not in owned]
    source = f"setup-{run.pk}"
    with transaction.atomic():
        if owned:
            changes = propagate_store_statuses(
                connector=connector,
                stock=[record for _mapping, records in owned for record in records],
                source=source,
            )
            result.forced_taken = [
                {"sku": change.variant.sku, "status": change.new_status or None}
                for change in changes
            ]
        wanted = desired_push_items(connector, [mapping for mapping, _ in foreign])
        hub_forced = {pk: items[0].forced_status for pk, items in wanted.items() if items}
        for mapping, records in foreign:
            store_status = records[0].forced_status
            hub_status = hub_forced.get(mapping.pk)
            if store_status == hub_status:
                continue
            record_status_replaced(
                connector=connector,
                variant=mapping.variant,
                store_status=store_status,
                hub_status=hub_status,
                source=source,
                found_by="Setup",
            )
            result.forced_replaced.append(
                {
                    "sku": mapping.variant.sku,
                    "store": str(store_status),
                    "hub": str(hub_status) if hub_status else None,
                    "locations": [record.location for record in records],
                }
            )
    if result.forced_replaced:
        record_problem(
            connector_id=connector.pk,
            kind=SyncProblemKind.DRIFT,
            message=f"Setup of {connector.name}: {len(result.forced_replaced)} SKU(s) had a "
            "forced status on the store that no status rule lets it own; the hub's status "
            "replaces it (see Status changes; force it in the hub, or add a status rule, to "
            "keep it): "
            + ", ".join(
                f"{entry['sku']} ({entry['store']})" for entry in result.forced_replaced[:20]
            ),
            details={"sync_run": run.pk, "forced_replaced": result.forced_replaced[:500]},
        )


def _first_sync(
    connector: Connector, run: SyncRun, created: list[tuple[SkuMapping, list[RemoteStock]]]
) -> None:
    """Store-owned locations: the store's figures become count movements. Hub-owned: the
    hub's values are pushed where they differ (not drift: nothing was in sync yet)."""
    locations = location_mappings(connector)
    store_owned = [
        record
        for _mapping, records in created
        for record in records
        if location_store_owned(connector, locations, record.location)
    ]
    if store_owned:
        with transaction.atomic():
            apply_remote_stock(
                connector=connector,
                stock=store_owned,
                source=f"setup-{run.pk}",
                details={"sync_run": run.pk},
            )
    enqueue_connector_pushes(connector.pk, [mapping.variant_id for mapping, _ in created])


def confirmed_status_record(record: RemoteStock, *, always_status: bool) -> dict:
    """What `last_confirmed_status` holds for a store record (see `_new_mapping`)."""
    shows_status = always_status or not record.is_managed
    return {
        "status": str(record.status) if shows_status else None,
        "forced_status": str(record.forced_status) if record.forced_status else None,
    }


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
    "confirmed_status_record",
    "ensure_webhook_secret",
    "has_been_set_up",
    "inbound_url",
    "public_base_url",
    "set_up_connector",
]
