"""Connector setup's SKU matching: the store's items mapped to the hub's SKUs by code, and
the first sync of what was mapped (see `connectors.sync.setup`)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field

from django.db import IntegrityError, transaction
from django.utils import timezone

from connectors.base import Connector as StoreConnector
from connectors.base import RemoteStock
from connectors.engine.problems import record_problem
from connectors.inbound.rules.snapshots import apply_remote_stock
from connectors.models import (
    Connector,
    SkuMapping,
    SyncProblemKind,
    SyncRun,
)
from connectors.outbox import enqueue_connector_pushes, forget_mapping_state
from connectors.registry import PushMode, kind_spec
from connectors.selectors import desired_push_items, location_mappings, location_store_owned
from connectors.sync.common import (
    LIST_LIMIT,
    unmapped_hub_variants,
)
from connectors.sync.status import (
    owned_scopes,
    propagate_store_statuses,
    record_status_replaced,
    rules_involving,
)
from stock.models import Variant


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


def map_matching_skus(
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
