"""The transfer pages (see transfers/urls.py), what transfers add to stock's pages, and the
webhook warehouses' own systems report to (wms.py)."""

from .actions import approve, cancel, close_short, pick, receive, receive_return_view, ship
from .pages import transfer_detail, transfers_page
from .panels import create_from_variant
from .wms import wms_events

__all__ = [
    "approve",
    "cancel",
    "close_short",
    "create_from_variant",
    "pick",
    "receive",
    "receive_return_view",
    "ship",
    "transfer_detail",
    "transfers_page",
    "wms_events",
]
