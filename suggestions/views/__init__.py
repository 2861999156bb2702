"""The Suggestions page (see suggestions/urls.py) and what suggestions add to stock's pages
(panels.py)."""

from .actions import approve, approve_all_view, approve_lane_view, dismiss, save_settings
from .pages import suggestions_page

__all__ = [
    "approve",
    "approve_all_view",
    "approve_lane_view",
    "dismiss",
    "save_settings",
    "suggestions_page",
]
