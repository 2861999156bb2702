"""An order the hub could not hold whole: an open order with an open short line (a store
sold units the hub did not have; stock.selectors.short_orders)."""

from collections.abc import Iterable

from alerts.core import observe_flag
from alerts.models import Alert, AlertState, Condition, Rule
from stock.models import Order, OrderLine
from stock.selectors import short_orders

from .common import Finding, RuleIndex


def short_order_candidates(*, variant_ids: Iterable[int] | None = None) -> set[int]:
    """Orders worth a look: those short now (with a line of these variants, when given),
    and those whose short-order alert has not resolved yet (so it can)."""
    orders = Order.objects.all()
    if variant_ids is not None:
        variant_ids = list(variant_ids)
        orders = orders.filter(
            pk__in=OrderLine.objects.filter(variant_id__in=variant_ids).values("order_id")
        )
    ids = set(short_orders(orders).values_list("pk", flat=True))
    alerted = Alert.objects.filter(rule__condition=Condition.SHORT_ORDER).exclude(
        state=AlertState.RESOLVED
    )
    for subject in alerted.values_list("subject", flat=True):
        ids.add(int(subject["order"]))
    return ids


def short_order_findings(rules: RuleIndex, order_ids: Iterable[int]) -> list[Finding]:
    """What the short-order rules see of these orders. A rule narrowed by variant or
    product covers an order with a line of it; one narrowed by channel, the channel's."""
    if not rules.by_condition.get(Condition.SHORT_ORDER):
        return []
    orders = Order.objects.filter(pk__in=list(order_ids)).select_related("channel")
    lines: dict[int, list[OrderLine]] = {}
    for line in (
        OrderLine.objects.filter(order__in=orders)
        .select_related("variant")
        .order_by("order_id", "line_number")
    ):
        lines.setdefault(line.order_id, []).append(line)
    open_ids = set(short_orders(orders).values_list("pk", flat=True))
    findings: list[Finding] = []
    for order in orders.order_by("pk"):
        its_lines = lines.get(order.pk, [])
        short = [
            line
            for line in its_lines
            if order.pk in open_ids and line.status == "open" and line.short_quantity > 0
        ]
        units = sum(line.short_quantity for line in short)
        where = f"Order {order.channel.code}/{order.reference}"
        if short:
            listed = ", ".join(f"{line.variant.sku} x{line.short_quantity}" for line in short)
            summary = f"{where}: {units} units sold that the hub could not hold ({listed})"
        else:
            summary = f"{where}: held whole now"
        details = {
            "order": order.reference,
            "status": order.status,
            "short_lines": [
                {
                    "line": line.line_number,
                    "sku": line.variant.sku,
                    "quantity": line.quantity,
                    "short_quantity": line.short_quantity,
                }
                for line in short
            ],
        }
        for rule in _covering(rules, order, its_lines):
            findings.append(
                Finding(
                    rule=rule,
                    subject={"kind": "order", "order": order.pk},
                    seen=observe_flag(bool(short)),
                    value=units,
                    summary=summary,
                    labels={"channel": order.channel.code, "order": order.reference},
                    details=details,
                    channel_id=order.channel_id,
                )
            )
    return findings


def _covering(rules: RuleIndex, order: Order, lines: list[OrderLine]) -> list[Rule]:
    scopes: list[tuple[int | None, int | None]] = [
        (line.variant_id, line.variant.product_id) for line in lines
    ] or [(None, None)]
    covering: dict[int, Rule] = {}
    for variant_id, product_id in scopes:
        for rule in rules.covering(
            Condition.SHORT_ORDER,
            channel_id=order.channel_id,
            variant_id=variant_id,
            product_id=product_id,
        ):
            covering[rule.pk] = rule
    return list(covering.values())
