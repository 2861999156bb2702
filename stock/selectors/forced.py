"""Forced stock statuses that are open now, and which one applies to a channel."""

from collections.abc import Iterable

from django.db.models import Q, QuerySet
from django.utils import timezone

from stock.models import ForcedStatus


def open_forced_statuses(variant_ids: Iterable[int]) -> QuerySet[ForcedStatus]:
    now = timezone.now()
    return ForcedStatus.objects.filter(
        variant_id__in=list(variant_ids), ended_at__isnull=True
    ).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))


def open_forced_statuses_by_scope(
    variant_ids: Iterable[int],
) -> dict[tuple[int, int | None], ForcedStatus]:
    """The open forced statuses of these variants by (variant id, channel id or None for
    every channel): what `forced_status_for` picks from."""
    return {
        (forced.variant_id, forced.channel_id): forced
        for forced in open_forced_statuses(variant_ids).select_related("channel")
    }


def forced_status_for(
    forced: dict[tuple[int, int | None], ForcedStatus], variant_id: int, channel_id: int | None
) -> ForcedStatus | None:
    """A channel's own override wins over the variant-wide one."""
    if channel_id is not None and (variant_id, channel_id) in forced:
        return forced[(variant_id, channel_id)]
    return forced.get((variant_id, None))
