from django.db import transaction

from stock.errors import InsufficientStock, StockError
from stock.models import BackorderPolicy, StockLevel, Variant


def set_backorder_policy(*, variant: Variant, policy: str) -> Variant:
    """Change a variant's backorder policy and the copy on each of its levels, together.

    Locks the variant's levels. Refuses to deny backorders while any warehouse is already
    below zero available (those orders must be received against or cancelled first).
    """
    if policy not in BackorderPolicy.values:
        raise StockError(f"Unknown backorder policy {policy!r}.", {"field": "backorders"})
    allows = policy != BackorderPolicy.DENY
    with transaction.atomic():
        # NO KEY UPDATE conflicts with the FOR SHARE that ensure_levels takes, so no level
        # is created with the old policy meanwhile, but not with the KEY SHARE that every
        # ledger INSERT's foreign-key check takes: a stock change holding a level while
        # this waits for that level can still finish, so the two cannot deadlock.
        Variant.objects.select_for_update(no_key=True).filter(pk=variant.pk).get()
        levels = list(
            StockLevel.objects.select_for_update(no_key=True)
            .filter(variant=variant)
            .select_related("warehouse")
            .order_by("pk")
        )
        if not allows:
            short = {lv.warehouse.code: lv.available for lv in levels if lv.available < 0}
            if short:
                raise InsufficientStock(
                    f"{variant.sku} is backordered at {', '.join(sorted(short))}; "
                    "receive stock or cancel those orders before denying backorders.",
                    {"available_by_warehouse": short},
                )
        Variant.objects.filter(pk=variant.pk).update(backorders=policy)
        StockLevel.objects.filter(variant=variant).update(is_backorder_allowed=allows)
    variant.backorders = policy
    return variant
