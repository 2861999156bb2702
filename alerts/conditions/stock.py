"""Stock conditions: per level (a variant in a warehouse) and per channel (a variant on a
channel), read through stock's selectors."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from alerts.core import Observation, observe_below
from alerts.models import Condition, Rule
from connectors.models import Connector
from stock.models import ForcedStatus, StockLevel, Variant
from stock.selectors import (
    ChannelSalable,
    channel_salable_many,
    forced_status_for,
    open_forced_statuses_by_scope,
)
from warehouses.models import ChannelWarehouse, SalesChannel

from .common import Finding, RuleIndex

LEVEL_CONDITIONS = (Condition.AVAILABLE_BELOW, Condition.OUT_OF_STOCK, Condition.BACK_IN_STOCK)
CHANNEL_CONDITIONS = (
    Condition.CHANNEL_SALABLE_BELOW,
    Condition.CHANNEL_OUT_OF_STOCK,
    Condition.CHANNEL_BACK_IN_STOCK,
    Condition.FORCED_STATUS_CONTRADICTS,
)
# Conditions that are events: they fire on a crossing and resolve at the next look.
EVENT_CONDITIONS = (Condition.BACK_IN_STOCK, Condition.CHANNEL_BACK_IN_STOCK)


def below(value: int, rule: Rule, own_threshold: int) -> Observation:
    """Below the rule's threshold; with none, at or below the variant's (or level's) own
    low-stock threshold, as the hub's "low stock" status is."""
    if rule.threshold is not None:
        return observe_below(value, rule.threshold, rule.hysteresis)
    return observe_below(value, own_threshold + 1, rule.hysteresis)


def out_of_stock(value: int, rule: Rule) -> Observation:
    return observe_below(value, 1, rule.hysteresis)


def level_findings(rules: RuleIndex, level_ids: Iterable[int]) -> list[Finding]:
    """What the level rules see of these levels (variants that are counted only)."""
    levels = StockLevel.objects.filter(pk__in=list(level_ids), variant__manage_stock=True)
    findings: list[Finding] = []
    for level in levels.select_related("variant", "warehouse"):
        scope = {
            "variant_id": level.variant_id,
            "product_id": level.variant.product_id,
            "warehouse_id": level.warehouse_id,
        }
        subject = {"kind": "level", "variant": level.variant_id, "warehouse": level.warehouse_id}
        labels = {"sku": level.variant.sku, "warehouse": level.warehouse.code}
        where = f"{level.variant.sku} at {level.warehouse.code}"
        for condition in LEVEL_CONDITIONS:
            for rule in rules.covering(condition, **scope):
                if condition == Condition.AVAILABLE_BELOW:
                    seen = below(level.available, rule, level.threshold)
                    summary = f"{where}: {level.available} available (low)"
                elif condition == Condition.OUT_OF_STOCK:
                    seen = out_of_stock(level.available, rule)
                    summary = f"{where}: out of stock"
                else:
                    seen = out_of_stock(level.available, rule)
                    summary = f"{where}: back in stock, {level.available} available"
                findings.append(
                    Finding(
                        rule=rule,
                        subject=subject,
                        seen=seen,
                        value=level.available,
                        summary=summary,
                        labels=labels,
                        details={
                            "on_hand": level.on_hand,
                            "reserved": level.reserved,
                            "unsellable": level.unsellable,
                            "safety_stock": level.safety_stock,
                            "inbound": level.inbound,
                            "available": level.available,
                        },
                        variant_id=level.variant_id,
                        warehouse_id=level.warehouse_id,
                    )
                )
    return findings


def channel_findings(
    rules: RuleIndex, variant_ids: Iterable[int], warehouse_ids: Iterable[int] | None = None
) -> list[Finding]:
    """What the channel rules see of these variants on the channels selling them (those
    linked to `warehouse_ids`, or every channel when None)."""
    variants = list(Variant.objects.filter(pk__in=list(variant_ids), manage_stock=True))
    if not variants or not any(rules.by_condition.get(c) for c in CHANNEL_CONDITIONS):
        return []
    channels = SalesChannel.objects.filter(is_active=True)
    if warehouse_ids is not None:
        linked = ChannelWarehouse.objects.filter(warehouse_id__in=list(warehouse_ids))
        channels = channels.filter(pk__in=linked.values("channel_id"))
    stores = _stores_by_channel()
    forced = open_forced_statuses_by_scope(variant.pk for variant in variants)
    findings: list[Finding] = []
    for channel in channels.order_by("pk"):
        salable = channel_salable_many(channel, variants)
        for variant in variants:
            look = ChannelLook(
                channel=channel,
                variant=variant,
                salable=salable[variant.pk],
                stores=stores[channel.pk],
                override=forced_status_for(forced, variant.pk, channel.pk),
            )
            findings.extend(_channel_variant(rules, look))
    return findings


@dataclass(frozen=True, slots=True)
class ChannelLook:
    """One variant on one channel, as the channel conditions see it."""

    channel: SalesChannel
    variant: Variant
    salable: ChannelSalable
    stores: list[str]
    override: ForcedStatus | None


def _channel_variant(rules: RuleIndex, look: ChannelLook) -> list[Finding]:
    channel, variant, salable, stores = look.channel, look.variant, look.salable, look.stores
    scope = {
        "variant_id": variant.pk,
        "product_id": variant.product_id,
        "channel_id": channel.pk,
    }
    subject = {"kind": "channel", "variant": variant.pk, "channel": channel.pk}
    labels = {"sku": variant.sku, "channel": channel.code}
    where = f"{variant.sku} on {channel.code}"
    breakdown = {
        "salable": salable.salable,
        "total_available": salable.total_available,
        "buffer": salable.buffer,
        "shortfall": salable.shortfall,
        "warehouses": {item.warehouse_code: item.counted for item in salable.breakdown},
    }
    findings = []
    for condition in CHANNEL_CONDITIONS:
        for rule in rules.covering(condition, **scope):
            if condition == Condition.FORCED_STATUS_CONTRADICTS:
                seen, summary, details = _contradiction(rule, look, where)
            elif condition == Condition.CHANNEL_SALABLE_BELOW:
                seen = below(salable.salable, rule, variant.low_stock_threshold)
                summary, details = f"{where}: {salable.salable} salable (low)", {}
            elif condition == Condition.CHANNEL_OUT_OF_STOCK:
                seen = out_of_stock(salable.salable, rule)
                summary, details = f"{where}: out of stock", {}
            else:
                seen = out_of_stock(salable.salable, rule)
                summary = f"{where}: back in stock, {salable.salable} salable"
                details = {}
            findings.append(
                Finding(
                    rule=rule,
                    subject=subject,
                    seen=seen,
                    value=salable.salable,
                    summary=summary,
                    labels=labels,
                    details={**details, "breakdown": breakdown, "stores": stores},
                    variant_id=variant.pk,
                    channel_id=channel.pk,
                )
            )
    return findings


def _contradiction(
    rule: Rule, look: ChannelLook, where: str
) -> tuple[Observation, str, dict[str, object]]:
    """Forced "in stock" with nothing salable, or forced "out of stock" with plenty (above
    the rule's threshold, or the variant's low-stock threshold). The message names the
    stores selling the channel, the override and who set it."""
    variant, salable, override = look.variant, look.salable, look.override
    forced = override.status if override else None
    plenty = rule.threshold if rule.threshold is not None else variant.low_stock_threshold
    contradicts = (
        forced == "in_stock" and salable.salable <= 0 and not variant.allows_backorders
    ) or (forced == "out_of_stock" and salable.salable > plenty)
    seen = Observation(holds=contradicts, cleared=not contradicts)
    if override is None:
        return seen, f"{where}: no forced status", {}
    stores = ", ".join(look.stores) or "no store"
    summary = (
        f"{where} ({stores}): forced {override.status} by {override.actor_label}"
        f" while {salable.salable} salable"
    )
    return (
        seen,
        summary,
        {
            "forced_status": override.status,
            "forced_reason": override.reason,
            "forced_by": override.actor_label,
            "forced_at": override.created_at.isoformat(),
        },
    )


def _stores_by_channel() -> dict[int, list[str]]:
    stores: dict[int, list[str]] = defaultdict(list)
    for channel_id, name in Connector.objects.filter(channel__isnull=False).values_list(
        "channel_id", "name"
    ):
        stores[channel_id].append(name)
    return stores
