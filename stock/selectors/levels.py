"""Stock levels: filtered by status or threshold, and checked against the ledger."""

from dataclasses import dataclass

from django.db.models import F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from stock.models import StockLevel, StockStatus
from stock.selectors.registered import LedgerProblem, registered_ledger_problems


def stock_levels() -> QuerySet[StockLevel]:
    return StockLevel.objects.select_related("variant", "variant__product", "warehouse")


def levels_below_threshold(queryset: QuerySet[StockLevel]) -> QuerySet[StockLevel]:
    """Levels at or under their own threshold, or the variant's when they set none."""
    return queryset.filter(
        Q(low_stock_threshold__isnull=False, available__lte=F("low_stock_threshold"))
        | Q(low_stock_threshold__isnull=True, available__lte=F("variant__low_stock_threshold"))
    )


def levels_with_status(queryset: QuerySet[StockLevel], status: str) -> QuerySet[StockLevel]:
    """The levels whose `status` property is `status`, decided by the database."""
    if status == StockStatus.OUT_OF_STOCK:
        return queryset.filter(available__lte=0, is_backorder_allowed=False)
    if status == StockStatus.BACKORDER:
        return queryset.filter(available__lte=0, is_backorder_allowed=True)
    if status == StockStatus.LOW_STOCK:
        return levels_below_threshold(queryset).filter(available__gt=0)
    if status == StockStatus.IN_STOCK:
        # Thresholds are never negative, so above the threshold is also above zero.
        return queryset.alias(
            effective_threshold=Coalesce("low_stock_threshold", "variant__low_stock_threshold")
        ).filter(available__gt=F("effective_threshold"))
    return queryset


@dataclass(frozen=True, slots=True)
class LedgerDifference:
    level_id: int
    sku: str
    warehouse_code: str
    quantity: str
    balance: int
    ledger: int


def ledger_differences() -> list[LedgerDifference]:
    """Every (level, quantity) whose balance differs from the sum of its ledger deltas."""
    names = ("on_hand", "reserved", "unsellable", "safety_stock", "inbound")
    annotated = StockLevel.objects.annotate(
        **{f"ledger_{name}": Coalesce(Sum(f"movements__delta_{name}"), 0) for name in names}
    ).values("pk", "variant__sku", "warehouse__code", *names, *(f"ledger_{n}" for n in names))
    differences = []
    for row in annotated.order_by("pk").iterator(chunk_size=2000):
        for name in names:
            if row[name] != row[f"ledger_{name}"]:
                differences.append(
                    LedgerDifference(
                        level_id=row["pk"],
                        sku=row["variant__sku"],
                        warehouse_code=row["warehouse__code"],
                        quantity=name,
                        balance=row[name],
                        ledger=row[f"ledger_{name}"],
                    )
                )
    return differences


@dataclass(frozen=True, slots=True)
class LedgerReport:
    """What `verify_ledger` finds: balances that differ from their ledger rows, and the
    problems of the checks the apps above registered (a transfer line whose counters
    disagree with its movements)."""

    differences: list[LedgerDifference]
    problems: list[LedgerProblem]

    @property
    def is_clean(self) -> bool:
        return not self.differences and not self.problems


def ledger_report() -> LedgerReport:
    return LedgerReport(differences=ledger_differences(), problems=registered_ledger_problems())
