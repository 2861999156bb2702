"""The inbound rules: what a store's orders, stock snapshots and feeds do to the hub.

- `common`: the outcome of applying something, and which failures are refusals.
- `orders`: store orders through `stock.services.orders`, counted by the accounting.
- `readings` / `snapshots`: a stock snapshot classified item by item, then applied.
- `events`: one stored delivery (or uploaded feed) read again and applied.
"""
