"""HTML pages and HTMX endpoints of the live dashboard (see stock/urls.py)."""

from .orders import cancel_short_units, fill_shortfall, orders
from .overview import overview
from .stock_table import stock_table
from .variants import adjust, count, force_status, unforce_status, variant_detail

__all__ = [
    "adjust",
    "cancel_short_units",
    "count",
    "fill_shortfall",
    "force_status",
    "orders",
    "overview",
    "stock_table",
    "unforce_status",
    "variant_detail",
]
