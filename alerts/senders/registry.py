"""Which sender serves which receiver kind."""

from __future__ import annotations

from alerts.models import ReceiverKind

from .base import Sender
from .dashboard import DashboardSender
from .email import EmailSender
from .slack import SlackSender
from .sms import SmsSender, VoiceSender
from .webhook import WebhookSender

SENDERS: dict[str, Sender] = {
    ReceiverKind.EMAIL: EmailSender(),
    ReceiverKind.SLACK: SlackSender(),
    ReceiverKind.WEBHOOK: WebhookSender(),
    ReceiverKind.SMS: SmsSender(),
    ReceiverKind.VOICE: VoiceSender(),
    ReceiverKind.DASHBOARD: DashboardSender(),
}


def sender_for(kind: str) -> Sender:
    return SENDERS[kind]
