from datetime import datetime
from functools import partial

from django.db import transaction
from django.utils import timezone

from inventory_hub.db import char_max_length
from stock.actors import Actor
from stock.errors import StockError
from stock.events import publish_status_forced, stock_changed_in_transaction
from stock.models import ForcedStatus, Variant
from warehouses.models import SalesChannel

MAX_REASON_LENGTH = char_max_length(ForcedStatus, "end_reason")
# The end reason of an override that a new one of the same scope replaced.
REPLACED = "Replaced by a new forced status."


def force_status(
    *,
    variant: Variant,
    status: str,
    reason: str,
    actor: Actor,
    channel: SalesChannel | None = None,
    expires_at: datetime | None = None,
) -> ForcedStatus:
    """Force the status a channel (or every channel) shows for a variant.

    Replaces any open override of the same scope (ended, not deleted). Locks the variant
    row so two operators forcing at once end up with exactly one open override.
    """
    if status not in ForcedStatus.Forced.values:
        raise StockError(
            f"Forced status must be one of {', '.join(ForcedStatus.Forced.values)}.",
            {"field": "status"},
        )
    if not reason or not reason.strip():
        raise StockError("A reason is required to force a status.", {"field": "reason"})
    now = timezone.now()
    if expires_at is not None and expires_at <= now:
        raise StockError("The expiry must be in the future.", {"field": "expires_at"})
    with transaction.atomic():
        Variant.objects.select_for_update(no_key=True).filter(pk=variant.pk).get()
        _open_overrides(variant, channel).update(
            ended_at=now, ended_by=actor.label, end_reason=REPLACED
        )
        forced = ForcedStatus.objects.create(
            variant=variant,
            channel=channel,
            status=status,
            reason=reason.strip(),
            actor_label=actor.label,
            actor_user_id=actor.user_id,
            expires_at=expires_at,
        )
        stock_changed_in_transaction([variant.pk])
        transaction.on_commit(partial(publish_status_forced, variant.pk))
    return forced


def clear_forced_status(
    *, variant: Variant, actor: Actor, reason: str, channel: SalesChannel | None = None
) -> bool:
    """End the open override of this scope, saying why. Returns False (and writes nothing)
    if there is none. Refuses a blank or over-long reason (StockError, field "reason").

    Locks the variant row, as force_status does; publishes status.forced after commit.
    """
    reason = _required_reason(reason, "to end a forced status")
    with transaction.atomic():
        Variant.objects.select_for_update(no_key=True).filter(pk=variant.pk).get()
        ended = _open_overrides(variant, channel).update(
            ended_at=timezone.now(), ended_by=actor.label, end_reason=reason
        )
        if ended:
            stock_changed_in_transaction([variant.pk])
            transaction.on_commit(partial(publish_status_forced, variant.pk))
    return bool(ended)


def _required_reason(reason: object, purpose: str) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise StockError(f"A reason is required {purpose}.", {"field": "reason"})
    reason = reason.strip()
    if len(reason) > MAX_REASON_LENGTH:
        raise StockError(f"Keep the reason to {MAX_REASON_LENGTH} characters.", {"field": "reason"})
    return reason


def _open_overrides(variant: Variant, channel: SalesChannel | None):
    return ForcedStatus.objects.filter(variant=variant, channel=channel, ended_at__isnull=True)
