"""Sync features on top of the engine: connector setup (SKU matching, location mapping,
webhook registration), the webhook watchdog, polling, nightly reconciliation and status
propagation between stores.

Everything a store reports here goes through the engine's inbound path
(`connectors.inbound.rules`: `apply_remote_stock` / `apply_remote_orders`), so ownership, echo,
staleness and dedupe rules live in one place; every value compared with a store comes
from `connectors.selectors.desired_push_items`.
"""
