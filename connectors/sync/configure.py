"""Creating and changing connectors: the services behind both the API and the admin.

Guarantees: `check_connector` accepts the settings before anything is written (the store
class checks its options and base URL when it is built), and refuses them naming the
setting at fault; location mappings are replaced as a whole in the same transaction;
whatever a connector should now show (it was switched on, its channel, ownership, options
or locations changed) is queued for a push on commit (connectors.outbox writes rows only
for connectors where the hub owns stock, `hub_owns_stock`). Secrets are stored as given and
never returned.

Archive and delete (`archive_connector`, `restore_connector`, `delete_connector`): a
connector that ever exchanged anything with its store (inbox events, outbox rows, sync
runs, SKU mappings, reports, problems, status changes) keeps that history: it cannot be
deleted, only archived. Archiving switches it off for good (polls, pushes, the watchdog
and reconciliation skip it, and deliveries are refused like any switched-off
connector's), hides it from the active lists (API list, Connectors page) and closes its
open problems; its history stays. It cannot be switched on until it is restored. Only a
connector without history (one created by mistake) is deleted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from connectors.base import Connector as StoreConnector
from connectors.base import ConnectorConfig
from connectors.engine.problems import resolve_open_problems
from connectors.models import Connector, LocationMapping, Ownership, SkuMapping, StatusRule
from connectors.outbox import enqueue_connector_pushes, forget_mapping_state
from connectors.registry import UnknownConnectorKind, connector_class, kind_spec
from warehouses.models import Warehouse


class InvalidConnectorSettings(ValueError):
    """The settings were refused. `field` names the setting at fault ("options",
    "base_url", "webhook_secret"); the message says what is wrong and never holds a
    secret."""

    def __init__(self, message: str, *, field: str = "options") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class LocationInput:
    location: str
    warehouse: Warehouse
    is_store_owned: bool | None = None


def check_store_settings(
    *,
    kind: str,
    base_url: str,
    credentials: Mapping[str, str],
    webhook_secret: str,
    options: Mapping[str, object],
    timeout_seconds: float,
) -> StoreConnector:
    """Build the store class with these settings; raise `InvalidConnectorSettings` (its
    message never holding a credential) when it refuses them. No request is made."""
    config = ConnectorConfig(
        base_url=base_url,
        credentials=dict(credentials),
        webhook_secret=webhook_secret,
        options=dict(options),
        timeout_seconds=timeout_seconds,
    )
    try:
        return connector_class(kind)(config)
    except UnknownConnectorKind as exc:
        raise InvalidConnectorSettings(str(exc)) from None
    except (ValueError, TypeError, KeyError) as exc:
        message = str(exc) or type(exc).__name__
        for secret in [*credentials.values(), webhook_secret]:
            if secret and len(str(secret)) >= 4:
                message = message.replace(str(secret), "***")
        field = "base_url" if message.startswith("base_url") else "options"
        raise InvalidConnectorSettings(message, field=field) from None


def check_connector(
    connector: Connector, *, locations: Sequence[LocationInput] | None = None
) -> None:
    """Refuse settings the hub cannot work with, before anything is written: raises
    `InvalidConnectorSettings` naming the field. `connector` holds the settings as they
    would be saved (it need not be saved itself); `locations` None: as stored.

    Beyond the store class's own check, a connector switched on must not be archived, must
    have the credentials its store class needs (`missing_credentials`), a webhook secret
    when its kind needs one the hub cannot make (Magento's connector module, a partner),
    and, when the hub owns stock it shows, whatever its store class needs to push (a
    partner's push_url).
    """
    store = check_store_settings(
        kind=connector.kind,
        base_url=connector.base_url,
        credentials=connector.credentials or {},
        webhook_secret=connector.webhook_secret,
        options=connector.options or {},
        timeout_seconds=connector.timeout_seconds,
    )
    if not connector.is_active:
        return  # a connector being prepared may lack what it needs to run
    if connector.archived_at is not None:
        raise InvalidConnectorSettings(
            f"Connector {connector.name} is archived: restore it before switching it on.",
            field="is_active",
        )
    missing = store.missing_credentials()
    if missing:
        raise InvalidConnectorSettings(missing, field="credentials")
    if kind_spec(connector.kind).needs_webhook_secret and not connector.webhook_secret:
        raise InvalidConnectorSettings(
            f"webhook_secret is required to switch a {connector.kind} connector on: its "
            "deliveries are verified with it, and the hub registers no webhook for it. "
            "Choose a long random value and give the sender the same.",
            field="webhook_secret",
        )
    if locations is None:
        overrides = list(
            LocationMapping.objects.filter(connector_id=connector.pk).values_list(
                "is_store_owned", flat=True
            )
            if connector.pk is not None
            else []
        )
    else:
        overrides = [location.is_store_owned for location in locations]
    reason = store.why_push_impossible()
    if reason and hub_owns_stock(ownership=connector.ownership, overrides=overrides):
        raise InvalidConnectorSettings(reason, field="options")


def hub_owns_stock(*, ownership: str, overrides: Sequence[bool | None]) -> bool:
    """Whether the hub owns stock somewhere a connector shows, so it pushes there: unless
    the store owns its stock and no location says otherwise (`is_store_owned` False)."""
    return ownership != Ownership.STORE or any(override is False for override in overrides)


_SETTINGS = (
    "name",
    "kind",
    "is_active",
    "base_url",
    "options",
    "channel",
    "ownership",
    "poll_interval_seconds",
    "push_rate_per_second",
    "timeout_seconds",
)


def create_connector(
    *,
    name: str,
    kind: str,
    credentials: Mapping[str, str] | None = None,
    webhook_secret: str = "",
    locations: Sequence[LocationInput] = (),
    **settings,
) -> Connector:
    """A new connector and its location mappings, in one transaction."""
    connector = Connector(
        name=name,
        kind=kind,
        credentials=dict(credentials or {}),
        webhook_secret=webhook_secret,
        **{key: value for key, value in settings.items() if key in _SETTINGS},
    )
    check_connector(connector, locations=locations)
    with transaction.atomic():
        connector.save()
        _replace_locations(connector, locations)
        forget_mapping_state()
    return connector


def update_connector(
    connector: Connector,
    *,
    credentials: Mapping[str, str] | None = None,
    webhook_secret: str | None = None,
    locations: Sequence[LocationInput] | None = None,
    **changes,
) -> Connector:
    """Change some settings; `credentials`/`webhook_secret`/`locations` replace what is
    stored when given (None keeps it). Queues pushes of every mapped SKU when the
    connector is switched on or what it shows changed (channel, ownership, options,
    locations)."""
    unknown = sorted(set(changes) - set(_SETTINGS))
    if unknown:
        raise TypeError(f"update_connector() got unknown settings: {', '.join(unknown)}")
    with transaction.atomic():
        locked = Connector.objects.select_for_update().get(pk=connector.pk)
        was_active = locked.is_active
        before = (locked.channel_id, locked.ownership, locked.options)
        for key, value in changes.items():
            setattr(locked, key, value)
        if credentials is not None:
            locked.credentials = dict(credentials)
        if webhook_secret is not None:
            locked.webhook_secret = webhook_secret
        check_connector(locked, locations=locations)
        locked.save()
        shows_other_things = (locked.channel_id, locked.ownership, locked.options) != before
        if locations is not None:
            shows_other_things |= _replace_locations(locked, locations)
        forget_mapping_state()
        if locked.is_active and (not was_active or shows_other_things):
            enqueue_connector_pushes(locked.pk)
    return locked


def save_sku_mapping(*, mapping: SkuMapping) -> SkuMapping:
    """Save a SKU mapping made or changed by hand (the admin). Its variant is queued for a
    push to its store in the same transaction, so the store is told what the hub holds for
    the item now mapped; this process re-reads what is mapped on its next stock change."""
    with transaction.atomic():
        mapping.save()
        enqueue_connector_pushes(mapping.connector_id, [mapping.variant_id])
    forget_mapping_state()
    return mapping


def delete_sku_mapping(*, mapping: SkuMapping) -> None:
    """Stop mapping a variant to a store item: nothing more is pushed for it there."""
    mapping.delete()
    forget_mapping_state()


def save_status_rule(*, rule: StatusRule) -> StatusRule:
    """Save a rule naming the store that owns a stock status. It takes effect with that
    store's next report (status propagation reads the rules as it applies one)."""
    rule.save()
    return rule


def delete_status_rule(*, rule: StatusRule) -> None:
    rule.delete()


def _replace_locations(connector: Connector, locations: Sequence[LocationInput]) -> bool:
    """Replace every location mapping; True when anything changed."""
    wanted = {(item.location, item.warehouse.pk, item.is_store_owned) for item in locations}
    current = set(
        LocationMapping.objects.filter(connector=connector).values_list(
            "location", "warehouse_id", "is_store_owned"
        )
    )
    if wanted == current:
        return False
    LocationMapping.objects.filter(connector=connector).delete()
    LocationMapping.objects.bulk_create(
        LocationMapping(
            connector=connector,
            location=item.location,
            warehouse=item.warehouse,
            is_store_owned=item.is_store_owned,
        )
        for item in locations
    )
    return True


class ConnectorHasHistory(Exception):
    """The connector exchanged things with its store: archive it instead of deleting it.
    `history` counts what it holds, by kind of record."""

    def __init__(self, connector: Connector, history: dict[str, int]) -> None:
        super().__init__(
            f"Connector {connector.name} has history ("
            + ", ".join(f"{count} {name.replace('_', ' ')}" for name, count in history.items())
            + "): archive it instead; its history is kept."
        )
        self.history = history


_HISTORY = (
    "inbox_events",
    "outbox_items",
    "sync_runs",
    "sku_mappings",
    "reconciliation_reports",
    "problems",
    "status_changes",
)


def connector_history(connector: Connector) -> dict[str, int]:
    """Records of each kind the connector holds ({} when none: it may be deleted)."""
    counts = {name: getattr(connector, name).count() for name in _HISTORY}
    return {name: count for name, count in counts.items() if count}


def archive_connector(*, connector_id: int) -> Connector:
    """Switch the connector off for good and hide it from active lists, keeping its
    history (see the module docstring); closes its open problems. Locks the connector row.
    Archiving an archived connector changes nothing."""
    with transaction.atomic():
        locked = Connector.objects.select_for_update().get(pk=connector_id)
        if locked.archived_at is None:
            locked.archived_at = timezone.now()
            locked.is_active = False
            locked.save(update_fields=["archived_at", "is_active", "updated_at"])
            resolve_open_problems(connector_id=locked.pk)
            forget_mapping_state()
    return locked


def restore_connector(*, connector_id: int) -> Connector:
    """Undo an archive. The connector stays switched off: switching it on is a separate
    change, checked like any other (`update_connector`)."""
    with transaction.atomic():
        locked = Connector.objects.select_for_update().get(pk=connector_id)
        if locked.archived_at is not None:
            locked.archived_at = None
            locked.save(update_fields=["archived_at", "updated_at"])
    return locked


def delete_connector(*, connector_id: int) -> None:
    """Delete a connector that has no history, with its location mappings and status
    rules; raise `ConnectorHasHistory` otherwise. The row lock (FOR UPDATE) keeps out a
    record added meanwhile: inserting one takes a key-share lock on the connector."""
    with transaction.atomic():
        locked = Connector.objects.select_for_update().get(pk=connector_id)
        history = connector_history(locked)
        if history:
            raise ConnectorHasHistory(locked, history)
        locked.delete()
        forget_mapping_state()


def reencrypt_connector_secrets() -> int:
    """Rewrite every connector's credentials and webhook secret with the first key of
    HUB_SECRET_KEYS (reading decrypts with any key), so older keys can then be dropped.
    One transaction, rows locked in id order; `updated_at` is kept (nothing changed for the
    store). Returns how many connectors were rewritten. Safe to run again."""
    count = 0
    with transaction.atomic():
        rows = Connector.objects.select_for_update().order_by("pk")
        for row in rows.only("pk", "credentials", "webhook_secret"):
            Connector.objects.filter(pk=row.pk).update(
                credentials=row.credentials, webhook_secret=row.webhook_secret
            )
            count += 1
    return count
