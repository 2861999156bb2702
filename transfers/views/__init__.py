"""The transfer pages (see transfers/urls.py) and what transfers add to stock's pages."""

from .actions import approve, cancel, close_short, pick, receive, ship
from .pages import transfer_detail, transfers_page
from .panels import create_from_variant

__all__ = [
    "approve",
    "cancel",
    "close_short",
    "create_from_variant",
    "pick",
    "receive",
    "ship",
    "transfer_detail",
    "transfers_page",
]
