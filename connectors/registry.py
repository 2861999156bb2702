"""Connector kinds: which store class speaks each kind, and how to build one from a row.

Store classes are imported lazily by dotted path, so the engine starts (and its tests run)
whether or not a given store module is installed yet. `build_connector` is the one place
that turns a `Connector` row into a `ConnectorConfig` and a store object; the secrets
travel only inside that config, never into logs or reprs.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

import requests
from django.utils.module_loading import import_string

from connectors.base import Connector as StoreConnector
from connectors.base import ConnectorConfig

if TYPE_CHECKING:
    from connectors.models import Connector


class PushMode(StrEnum):
    """What the hub pushes to a kind of store (see the shared design)."""

    # The connector channel's salable quantity, one value per SKU (WooCommerce).
    CHANNEL = "channel"
    # Per mapped source: available there + what this channel's own open orders hold there,
    # so the store may subtract its own reservations again (Magento MSI).
    PER_SOURCE = "per_source"
    # The channel's salable quantity; per warehouse where locations are mapped (partners).
    CHANNEL_PER_LOCATION = "channel_per_location"


@dataclass(frozen=True, slots=True)
class ConnectorKindSpec:
    kind: str
    class_path: str
    push_mode: PushMode
    # The store lowers its own quantity for its own open orders (WooCommerce does when an
    # order is placed), so its physical stock is its quantity plus what the hub still
    # holds for this channel there.
    quantity_excludes_own_orders: bool = False
    # Deliveries are verified with a webhook secret that only whoever sets up the sender
    # can share with it: the hub registers no webhook of this kind itself (it does make
    # WooCommerce's, at setup), so a connector switched on without one could receive
    # nothing but 401s.
    needs_webhook_secret: bool = False
    # Every stock record states whether the store counts the item (WooCommerce's
    # `manage_stock`), so a mapping follows a switch; elsewhere a missing quantity may
    # just be a partial record.
    reports_manage_stock: bool = False


KINDS: dict[str, ConnectorKindSpec] = {
    spec.kind: spec
    for spec in (
        ConnectorKindSpec(
            "woocommerce",
            "connectors.woocommerce.WooCommerceConnector",
            PushMode.CHANNEL,
            quantity_excludes_own_orders=True,
            reports_manage_stock=True,
        ),
        ConnectorKindSpec(
            "magento",
            "connectors.magento.MagentoConnector",
            PushMode.PER_SOURCE,
            needs_webhook_secret=True,
        ),
        ConnectorKindSpec(
            "partner",
            "connectors.partner.PartnerConnector",
            PushMode.CHANNEL_PER_LOCATION,
            needs_webhook_secret=True,
        ),
    )
}


class UnknownConnectorKind(LookupError):
    pass


def register_kind(spec: ConnectorKindSpec) -> None:
    """Add (or replace) a kind; tests use it for a small store class of their own."""
    KINDS[spec.kind] = spec


def unregister_kind(kind: str) -> None:
    KINDS.pop(kind, None)


def kind_spec(kind: str) -> ConnectorKindSpec:
    try:
        return KINDS[kind]
    except KeyError:
        raise UnknownConnectorKind(
            f"No connector kind {kind!r}; known: {', '.join(sorted(KINDS))}."
        ) from None


def connector_class(kind: str) -> type[StoreConnector]:
    """The store class for `kind`, imported on first use (ImportError if not installed)."""
    return import_string(kind_spec(kind).class_path)


def build_config(connector: Connector) -> ConnectorConfig:
    return ConnectorConfig(
        base_url=connector.base_url,
        credentials=dict(connector.credentials or {}),
        webhook_secret=connector.webhook_secret,
        options=dict(connector.options or {}),
        timeout_seconds=connector.timeout_seconds,
    )


def build_connector(
    connector: Connector, *, session: requests.Session | None = None
) -> StoreConnector:
    """A store object for this row, talking through `session` (a plain one by default)."""
    return connector_class(connector.kind)(build_config(connector), session)
