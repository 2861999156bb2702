"""The alert pages (see alerts/urls.py): the Alerts page and its buttons, the rule editor
with its preview, the receivers' test messages, the overview's tile, and the signed
acknowledge link of a message (link.py)."""

from .actions import acknowledge, end_silence, resolve, silence, test_message
from .link import acknowledge_link
from .pages import alerts_page, rule_form, rule_preview, rules_page

__all__ = [
    "acknowledge",
    "acknowledge_link",
    "alerts_page",
    "end_silence",
    "resolve",
    "rule_form",
    "rule_preview",
    "rules_page",
    "silence",
    "test_message",
]
