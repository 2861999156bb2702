"""The sweep's full pass, in SQL: which subjects of a stock rule's scope may hold now and
have no unresolved alert of that rule yet (those are re-evaluated as alerts). Each answer
is a superset of what the rule would see hold, computed in one statement per rule (and
per channel), so a pass over 500,000 levels never loads them into Python."""

from collections.abc import Iterable

from django.db import connection
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.functions import Coalesce

from alerts.models import Alert, AlertState, Condition, Rule
from stock.models import OPEN_ORDER_STATUSES, ForcedStatus, OrderLine, StockLevel, Variant
from warehouses.models import ChannelWarehouse, SalesChannel, Warehouse


def level_candidates(rule: Rule) -> list[int]:
    """Levels of the rule's scope below its line (out of stock: under 1; with no
    threshold: at or below the level's, else the variant's, low-stock threshold)."""
    levels = StockLevel.objects.filter(variant__manage_stock=True)
    if rule.variant_id is not None:
        levels = levels.filter(variant_id=rule.variant_id)
    if rule.product_id is not None:
        levels = levels.filter(variant__product_id=rule.product_id)
    if rule.warehouse_id is not None:
        levels = levels.filter(warehouse_id=rule.warehouse_id)
    if rule.condition == Condition.AVAILABLE_BELOW and rule.threshold is None:
        own = Coalesce(F("low_stock_threshold"), F("variant__low_stock_threshold"))
        levels = levels.filter(available__lt=own + 1)
    elif rule.condition == Condition.AVAILABLE_BELOW:
        levels = levels.filter(available__lt=rule.threshold)
    else:  # out of stock, and back in stock (armed while out)
        levels = levels.filter(available__lt=1)
    alerted = Alert.objects.filter(
        Q(state__in=[AlertState.PENDING, AlertState.FIRING]) | Q(details__armed=True),
        rule_id=rule.pk,
        variant_id=OuterRef("variant_id"),
        warehouse_id=OuterRef("warehouse_id"),
    )
    return list(levels.filter(~Exists(alerted)).values_list("pk", flat=True))


# Σ max(available, 0) over the channel's active warehouses, less its buffer: what a variant
# could sell there at most (allocation shares, shortfalls and the cap only lower it).
_CHANNEL_SQL = """
SELECT v.id
FROM {variant} v
LEFT JOIN (
    SELECT l.variant_id,
        SUM(CASE WHEN l.available > 0 THEN l.available ELSE 0 END) AS total
    FROM {level} l
    JOIN {link} cw ON cw.warehouse_id = l.warehouse_id AND cw.channel_id = %(channel)s
    JOIN {warehouse} w ON w.id = l.warehouse_id AND w.is_active
    GROUP BY l.variant_id
) t ON t.variant_id = v.id
WHERE v.manage_stock {scope}
  AND COALESCE(t.total, 0) - %(buffer)s < {limit}
"""


def _alerted_variants(rule: Rule, channel: SalesChannel) -> set[int]:
    """Variants with an unresolved (or armed) alert of the rule on the channel: the
    evaluation of existing alerts looks at those."""
    alerted = Alert.objects.filter(
        Q(state__in=[AlertState.PENDING, AlertState.FIRING]) | Q(details__armed=True),
        rule_id=rule.pk,
        channel_id=channel.pk,
    )
    return set(alerted.values_list("variant_id", flat=True))


def channel_candidates(rule: Rule, channels: Iterable[SalesChannel]) -> set[int]:
    """Variants of the rule's scope that may be below its line on one of these channels,
    or (contradictions) that have an open forced status."""
    if rule.condition == Condition.FORCED_STATUS_CONTRADICTS:
        forced = ForcedStatus.objects.filter(ended_at__isnull=True)
        if rule.variant_id is not None:
            forced = forced.filter(variant_id=rule.variant_id)
        if rule.product_id is not None:
            forced = forced.filter(variant__product_id=rule.product_id)
        return set(forced.values_list("variant_id", flat=True))
    if rule.condition == Condition.CHANNEL_SALABLE_BELOW and rule.threshold is None:
        limit, line = "v.low_stock_threshold + 1", None
    elif rule.condition == Condition.CHANNEL_SALABLE_BELOW:
        limit, line = "%(threshold)s", rule.threshold
    else:
        limit, line = "1", 1
    scope = "".join(
        clause
        for clause, value in (
            (" AND v.id = %(variant)s", rule.variant_id),
            (" AND v.product_id = %(product)s", rule.product_id),
        )
        if value is not None
    )
    sql = _CHANNEL_SQL.format(
        variant=Variant._meta.db_table,
        level=StockLevel._meta.db_table,
        link=ChannelWarehouse._meta.db_table,
        warehouse=Warehouse._meta.db_table,
        scope=scope,
        limit=limit,
    )
    found: set[int] = set()
    with connection.cursor() as cursor:
        for channel in channels:
            if channel.max_salable_quantity is not None and line is not None:
                capped = channel.max_salable_quantity < line
            else:
                capped = channel.max_salable_quantity is not None
            params = {
                "channel": channel.pk,
                "variant": rule.variant_id,
                "product": rule.product_id,
                "buffer": channel.safety_buffer,
                "threshold": rule.threshold,
            }
            cursor.execute(sql, params)
            found.update({row[0] for row in cursor.fetchall()} - _alerted_variants(rule, channel))
            found.update(_short_variants(channel, rule))
            if capped:
                found.update(_capped_variants(rule))
    return found


def _short_variants(channel: SalesChannel, rule: Rule) -> set[int]:
    """Variants with an open shortfall on the channel: it lowers what they may sell."""
    lines = OrderLine.objects.filter(
        short_quantity__gt=0,
        status=OrderLine.Status.OPEN,
        order__channel_id=channel.pk,
        order__status__in=OPEN_ORDER_STATUSES,
    )
    if rule.variant_id is not None:
        lines = lines.filter(variant_id=rule.variant_id)
    if rule.product_id is not None:
        lines = lines.filter(variant__product_id=rule.product_id)
    return set(lines.values_list("variant_id", flat=True))


def _capped_variants(rule: Rule) -> set[int]:
    """A cap under the rule's line (or a threshold per variant) may put any variant under it."""
    variants = Variant.objects.filter(manage_stock=True)
    if rule.variant_id is not None:
        variants = variants.filter(pk=rule.variant_id)
    if rule.product_id is not None:
        variants = variants.filter(product_id=rule.product_id)
    return set(variants.values_list("pk", flat=True))
