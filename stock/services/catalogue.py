"""Writes to the catalogue: products and variants. Each public function is one transaction.

Neither is ever deleted (stock history refers to them): they are retired with
`is_active=False`. Input is checked by the caller (the API's serializers, the admin's
forms); these functions refuse only what would break a rule the database cannot see.
"""

import logging
from functools import partial
from typing import cast

from django.db import transaction

from stock.availability import invalidate_availability
from stock.errors import InsufficientStock, StockError
from stock.events import stock_changed_in_transaction
from stock.models import BackorderPolicy, Product, StockLevel, Variant

logger = logging.getLogger(__name__)

PRODUCT_FIELDS = frozenset({"name", "description", "is_active"})
VARIANT_FIELDS = frozenset(
    {
        "product",
        "attributes",
        "barcode",
        "manage_stock",
        "backorders",
        "unit_cost",
        "low_stock_threshold",
        "is_active",
    }
)
# What the storefront answer depends on: changing one drops the variant's cached answers.
AVAILABILITY_FIELDS = frozenset({"manage_stock", "backorders", "low_stock_threshold", "is_active"})


def create_product(*, name: str, **details: object) -> Product:
    """Create a product (a style; what is stocked are its variants). Writes nothing else."""
    _require_known_fields(details, PRODUCT_FIELDS - {"name"})
    with transaction.atomic():
        return Product.objects.create(name=name, **details)


def update_product(*, product: Product, **changes: object) -> Product:
    """Change a product's details; `is_active=False` retires it (its variants keep their own).

    Writes only the fields given, under the product's row lock (FOR NO KEY UPDATE, which
    variant inserts referring to it do not wait for). Updates `product` in place.
    """
    _require_known_fields(changes, PRODUCT_FIELDS)
    if not changes:
        return product
    with transaction.atomic():
        Product.objects.select_for_update(no_key=True).filter(pk=product.pk).get()
        for name, value in changes.items():
            setattr(product, name, value)
        product.save(update_fields=sorted(changes))
    return product


def create_variant(*, product: Product, sku: str, **details: object) -> Variant:
    """Create a variant (a SKU). A taken SKU or barcode raises IntegrityError, nothing written."""
    _require_known_fields(details, VARIANT_FIELDS - {"product"})
    with transaction.atomic():
        return Variant.objects.create(product=product, sku=sku, **details)


def update_variant(*, variant: Variant, **changes: object) -> Variant:
    """Change a variant's details, all or nothing; `is_active=False` retires it.

    A new backorder policy goes through `set_backorder_policy` (which locks the variant and
    its levels, and may refuse with InsufficientStock); the other fields are written by name
    under the same transaction, so a refusal or a taken barcode (IntegrityError) changes
    nothing. A change to what the storefront shows drops the variant's cached availability
    on every channel after commit. Updates `variant` in place.
    """
    _require_known_fields(changes, VARIANT_FIELDS)
    changes = dict(changes)
    policy = changes.pop("backorders", None)
    with transaction.atomic():
        if policy is not None:
            # Compared under the lock the policy service takes too, so a concurrent change
            # of the policy is never mistaken for "already so". NO KEY, like the service:
            # FOR UPDATE would also block the KEY SHARE of a ledger insert's foreign-key check.
            current = Variant.objects.select_for_update(no_key=True).get(pk=variant.pk)
            if policy != current.backorders:
                # Any value given: the service refuses one that is not a BackorderPolicy.
                set_backorder_policy(variant=variant, policy=cast(str, policy))
        for name, value in changes.items():
            setattr(variant, name, value)
        if changes:
            variant.save(update_fields=sorted(changes))
        if AVAILABILITY_FIELDS & set(changes):
            _drop_cached_availability(variant)
    return variant


def set_backorder_policy(*, variant: Variant, policy: str) -> Variant:
    """Change a variant's backorder policy and the copy on each of its levels, together.

    Locks the variant's levels. Refuses to deny backorders while any warehouse is already
    below zero available (those orders must be received against or cancelled first).
    Drops the variant's cached storefront availability after commit.
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
        stock_changed_in_transaction([variant.pk])
        _drop_cached_availability(variant)
    variant.backorders = policy
    return variant


def set_level_threshold(*, level: StockLevel, threshold: int | None) -> StockLevel:
    """Set one level's own low-stock threshold; None lets its variant's apply.

    Writes that one column, so quantities the caller read earlier are never written back
    over a stock change committed since. The storefront reads the variant's threshold, not
    the level's, so no cached answer changes.
    """
    with transaction.atomic():
        level.low_stock_threshold = threshold
        level.save(update_fields=["low_stock_threshold"])
    return level


def _drop_cached_availability(variant: Variant) -> None:
    transaction.on_commit(partial(_invalidate_quietly, [variant.pk]))


def _invalidate_quietly(variant_ids: list[int]) -> None:
    # The change is committed by now: a cache that cannot be reached only leaves the old
    # answer for its few-second TTL and must not turn the write into an error. (Not
    # on_commit(robust=True): Django 5.2 then fails on logging a partial's error, as it
    # reads the callback's __qualname__.)
    try:
        invalidate_availability(variant_ids)
    except Exception:
        logger.exception("Could not drop cached availability of variants %s", variant_ids)


def _require_known_fields(given: dict[str, object], allowed: frozenset[str]) -> None:
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise TypeError(f"Unknown field(s): {', '.join(unknown)}.")
