from datetime import datetime
from functools import partial

from django.db import transaction
from django.utils import timezone

from stock.actors import Actor
from stock.errors import StockError
from stock.events import publish_status_forced, stock_changed_in_transaction
from stock.models import ForcedStatus, Variant
from warehouses.models import SalesChannel


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
        _open_overrides(variant, channel).update(ended_at=now, ended_by=actor.label)
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
    *, variant: Variant, actor: Actor, channel: SalesChannel | None = None
) -> bool:
    """End the open override of this scope. Returns False (and writes nothing) if none."""
    with transaction.atomic():
        Variant.objects.select_for_update(no_key=True).filter(pk=variant.pk).get()
        ended = _open_overrides(variant, channel).update(
            ended_at=timezone.now(), ended_by=actor.label
        )
        if ended:
            stock_changed_in_transaction([variant.pk])
            transaction.on_commit(partial(publish_status_forced, variant.pk))
    return bool(ended)


def _open_overrides(variant: Variant, channel: SalesChannel | None):
    return ForcedStatus.objects.filter(variant=variant, channel=channel, ended_at__isnull=True)
