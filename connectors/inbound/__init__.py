"""The connectors' inbound path, by layer; each imports only the ones below it.

- `receiving`: verify a store's delivery and store it before answering (the view and the
  ASGI fast path share its rules).
- `queue`: kick, drain, retry and dead-letter the stored deliveries; applies each through
  the rules, once.
- `rules`: what an order, a stock snapshot or a feed means for the hub, for deliveries and
  for polls, feeds and reconciliation alike.
"""
