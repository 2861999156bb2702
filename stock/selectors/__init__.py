"""Reads shared by the admin, the API, live pages and tasks. Nothing here writes.

- `lookups`: a variant, warehouse or channel by its code.
- `levels`: stock levels by status or threshold; differences from the ledger.
- `registered`: what the apps above answer for stock (transfer holds, ledger checks).
- `forced`: open forced statuses and the one that applies.
- `salable`: a channel's salable quantity per SKU, with expired holds and shortfalls.
- `orders`: short orders, and the orders a user may read.
- `history`: daily closes per warehouse for the stock chart.
- `dashboard`: warehouse figures and the activity feed.
"""

from stock.selectors.dashboard import (
    ActivityEntry,
    ActivityLine,
    WarehouseKpis,
    recent_activity,
    warehouse_kpis,
)
from stock.selectors.forced import (
    forced_status_for,
    open_forced_statuses,
    open_forced_statuses_by_scope,
)
from stock.selectors.history import HistoryPoint, HistorySeries, stock_history
from stock.selectors.levels import (
    LedgerDifference,
    LedgerReport,
    ledger_differences,
    ledger_report,
    levels_below_threshold,
    levels_with_status,
    stock_levels,
)
from stock.selectors.lookups import get_channel_by_code, get_variant_by_sku, get_warehouse_by_code
from stock.selectors.orders import orders_readable_by, short_orders
from stock.selectors.registered import (
    TRANSFER_HOLDS,
    LedgerProblem,
    held_by,
    register_hold_source,
    register_ledger_check,
)
from stock.selectors.salable import (
    ChannelSalable,
    WarehouseContribution,
    channel_salable,
    channel_salable_many,
    expired_held_quantity,
    open_shortfalls,
)

__all__ = [
    "TRANSFER_HOLDS",
    "ActivityEntry",
    "ActivityLine",
    "ChannelSalable",
    "HistoryPoint",
    "HistorySeries",
    "LedgerDifference",
    "LedgerProblem",
    "LedgerReport",
    "WarehouseContribution",
    "WarehouseKpis",
    "channel_salable",
    "channel_salable_many",
    "expired_held_quantity",
    "forced_status_for",
    "get_channel_by_code",
    "get_variant_by_sku",
    "get_warehouse_by_code",
    "held_by",
    "ledger_differences",
    "ledger_report",
    "levels_below_threshold",
    "levels_with_status",
    "open_forced_statuses",
    "open_forced_statuses_by_scope",
    "open_shortfalls",
    "orders_readable_by",
    "recent_activity",
    "register_hold_source",
    "register_ledger_check",
    "short_orders",
    "stock_history",
    "stock_levels",
    "warehouse_kpis",
]
