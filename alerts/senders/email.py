"""E-mail through Django's mail (SMTP from the environment) to the receiver's addresses,
users and groups. The notification id is the Message-ID, so a mail system that drops
duplicates by Message-ID drops a copy sent again."""

from __future__ import annotations

import smtplib
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage, get_connection

from alerts.models import Receiver

from .base import Outgoing, SendFailed


def recipients(config: dict) -> list[str]:
    """The receiver's addresses, its users' and its groups' members' e-mails, each once."""
    users = get_user_model().objects.filter(is_active=True).exclude(email="")
    found: list[str] = list(config.get("addresses") or [])
    if config.get("users"):
        found += users.filter(username__in=config["users"]).values_list("email", flat=True)
    if config.get("groups"):
        found += users.filter(groups__name__in=config["groups"]).values_list("email", flat=True)
    return _unique(found)


def _unique(addresses: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for address in addresses:
        seen.setdefault(address.lower(), address)
    return list(seen.values())


def message_id(notification_id: str) -> str:
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].strip(">") or "inventory-hub"
    return f"<{notification_id}@{domain}>"


class EmailSender:
    def send(self, receiver: Receiver, message: Outgoing) -> str:
        to = recipients(receiver.config)
        if not to:
            raise SendFailed(
                "The receiver names no address, user or group with an e-mail.", permanent=True
            )
        timeout = float(getattr(settings, "ALERTS_SEND_TIMEOUT_SECONDS", 10))
        mail = EmailMessage(
            subject=message.title[:200],
            body=message.text,
            to=to,
            headers={"Message-ID": message_id(message.id), "X-Hub-Notification": message.id},
            connection=get_connection(timeout=timeout),
        )
        try:
            mail.send(fail_silently=False)
        except smtplib.SMTPRecipientsRefused as error:
            raise SendFailed(f"Recipients refused: {error.recipients}", permanent=True) from None
        except (smtplib.SMTPException, OSError) as error:
            raise SendFailed(f"{type(error).__name__}: {error}") from None
        return f"accepted for {len(to)} recipient(s)"
