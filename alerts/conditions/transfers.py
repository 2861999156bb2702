"""A late transfer: on the road past its due time (shipped + the lane's lead time) plus the
rule's grace, or approved (held at the source) and not shipped within `approved_hours`.

"Late" keeps one definition, the transfers app's (`transfers.selectors.late_q`).
"""

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db.models import Q

from alerts.core import observe_flag
from alerts.models import Alert, AlertState, Condition, Rule
from transfers.selectors import HOLDING_STATES, ON_THE_ROAD, late_q, transfers_list

from .common import Finding, RuleIndex


def late_transfer_findings(
    rules: RuleIndex, *, now: datetime, transfer_ids: Iterable[int] = ()
) -> list[Finding]:
    """Each late-transfer rule's look at the transfers late by its measures, and at those
    given (the subjects of its unresolved alerts, so they can resolve)."""
    late_rules = rules.by_condition.get(Condition.LATE_TRANSFER, [])
    if not late_rules:
        return []
    known = set(transfer_ids) | _alerted_transfers()
    findings: list[Finding] = []
    for rule in late_rules:
        grace = timedelta(hours=int(rule.params.get("grace_hours", 0)))
        approved_for = timedelta(hours=int(rule.params.get("approved_hours", 24)))
        late = late_q(now - grace)
        held = Q(state__in=HOLDING_STATES, approved_at__lt=now - approved_for)
        transfers = transfers_list().filter(late | held | Q(pk__in=known))
        if rule.warehouse_id is not None:
            transfers = transfers.filter(
                Q(source_id=rule.warehouse_id) | Q(destination_id=rule.warehouse_id)
            )
        for transfer in transfers.order_by("pk"):
            findings.append(_finding(rule, transfer, now, grace, approved_for))
    return findings


def _finding(
    rule: Rule,
    transfer,
    now: datetime,
    grace: timedelta,
    approved_for: timedelta,
) -> Finding:
    route = f"{transfer.source.code} → {transfer.destination.code}"
    where = f"Transfer {transfer.reference} ({route})"
    on_road = transfer.state in ON_THE_ROAD
    if on_road and transfer.due_at is not None and transfer.due_at < now - grace:
        hours = int((now - transfer.due_at).total_seconds() // 3600)
        holds, summary, value = True, f"{where}: shipped, {hours} h past due", hours
    elif (
        transfer.state in HOLDING_STATES
        and transfer.approved_at is not None
        and transfer.approved_at < now - approved_for
    ):
        hours = int((now - transfer.approved_at).total_seconds() // 3600)
        holds, summary, value = True, f"{where}: {transfer.state} {hours} h ago, not shipped", hours
    else:
        holds, summary, value = False, f"{where}: {transfer.state}, on time", None
    return Finding(
        rule=rule,
        subject={"kind": "transfer", "transfer": transfer.pk},
        seen=observe_flag(holds),
        value=value,
        summary=summary,
        labels={
            "transfer": transfer.reference,
            "source": transfer.source.code,
            "destination": transfer.destination.code,
            # Who must act: the destination waits for a shipment, the source must ship.
            "warehouse": transfer.destination.code if on_road else transfer.source.code,
        },
        details={
            "state": transfer.state,
            "approved_at": transfer.approved_at.isoformat() if transfer.approved_at else None,
            "shipped_at": transfer.shipped_at.isoformat() if transfer.shipped_at else None,
            "due_at": transfer.due_at.isoformat() if transfer.due_at else None,
            "grace_hours": int(grace.total_seconds() // 3600),
            "approved_hours": int(approved_for.total_seconds() // 3600),
        },
        warehouse_id=transfer.destination_id if on_road else transfer.source_id,
    )


def _alerted_transfers() -> set[int]:
    subjects = (
        Alert.objects.filter(rule__condition=Condition.LATE_TRANSFER)
        .exclude(state=AlertState.RESOLVED)
        .values_list("subject", flat=True)
    )
    return {int(subject["transfer"]) for subject in subjects}
