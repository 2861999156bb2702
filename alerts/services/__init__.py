"""Every write of alerts; each public function is one transaction."""

from .acknowledge import acknowledge_alert, resolve_alert
from .delivery import deliver_notification
from .escalation import escalate_due
from .evaluation import Evaluated, apply_findings, fingerprint
from .notify import flush_due_groups, flush_group, note_alert_changes
from .receivers import save_escalation_step, save_receiver, save_route, send_test_message
from .rules import create_rule, update_rule
from .silences import create_silence, expire_silence

__all__ = [
    "Evaluated",
    "acknowledge_alert",
    "apply_findings",
    "create_rule",
    "create_silence",
    "deliver_notification",
    "escalate_due",
    "expire_silence",
    "fingerprint",
    "flush_due_groups",
    "flush_group",
    "note_alert_changes",
    "resolve_alert",
    "save_escalation_step",
    "save_receiver",
    "save_route",
    "send_test_message",
    "update_rule",
]
