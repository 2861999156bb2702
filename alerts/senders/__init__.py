"""Senders: one per receiver kind, behind one small interface (`Sender.send`).

A sender gets the receiver and the message (its id, kind, title, text and the payload) and
either returns what the far end answered or raises `SendFailed`, saying whether a retry
could help. The message id travels with every message (webhook-id, Message-ID, the Slack
text, the SMS body), so a receiver that keeps ids drops a copy sent again after a worker
died mid-send.
"""

from .base import Outgoing, Sender, SendFailed, render_text
from .registry import sender_for

__all__ = ["Outgoing", "SendFailed", "Sender", "render_text", "sender_for"]
