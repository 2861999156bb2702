"""Bulk stock: thousands of counts or deltas checked as a whole and applied in one go.

`plan_bulk_stock` resolves every row's SKU and warehouse with one query each and finds the
rows that can never apply; `apply_bulk_stock` hands the whole batch to the ledger engine in
one `apply_changes` call, so every row is written or none is. A dry run runs exactly the same
apply and rolls it back, so its report is what a real run would have done at that moment.
"""

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import connection, transaction

from inventory_hub.db import loaded_instance
from stock.actors import Actor
from stock.errors import StockError
from stock.models import MovementKind, MovementSource, ReasonCode, Variant
from warehouses.models import Warehouse

from .backend import write_backend
from .ledger import BatchRejected, ChangeOutcome, LevelChange, apply_changes

# The reason a row gets when it names none: a bulk count is a stocktake; a bare delta
# corrects the balance.
COUNT_REASON = ReasonCode.STOCKTAKE.value
DELTA_REASON = ReasonCode.CORRECTION.value


# Not frozen: a frozen dataclass sets each field through object.__setattr__, which made
# building 10,000 rows take twice as long.
@dataclass(slots=True)
class BulkRow:
    """One row of a batch: an absolute `counted` figure or a non-zero `delta` of on hand."""

    sku: str
    warehouse: str
    reason: str
    counted: int | None = None
    delta: int | None = None
    note: str = ""
    expected_on_hand: int | None = None
    document: str = ""
    # The ledger reference: a replay of the same reference is reported, not applied again.
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class RowProblem:
    """Why one row of a batch cannot be applied; `index` is its position in the batch."""

    index: int
    sku: str | None
    warehouse: str | None
    code: str
    message: str
    field: str | None = None
    # dataclasses.field: the name `field` is this class's own attribute by now.
    details: dict = dataclasses.field(default_factory=dict)


@dataclass
class BulkRejected(StockError):
    """The engine refused some rows (stock rules); nothing of the batch was written."""

    problems: list[RowProblem] = field(default_factory=list)
    code = "batch_rejected"


@dataclass(slots=True)
class BulkPlan:
    """The rows, their engine changes (in row order) and the rows that can never apply."""

    rows: Sequence[BulkRow]
    changes: list[LevelChange] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)


@dataclass(slots=True)
class BulkResult:
    """One outcome per row, in row order; after a dry run none of it was kept."""

    outcomes: list[ChangeOutcome]
    is_dry_run: bool

    @property
    def written(self) -> int:
        return 0 if self.is_dry_run else sum(o.row is not None for o in self.outcomes)


def plan_bulk_stock(rows: Sequence[BulkRow]) -> BulkPlan:
    """Resolve SKUs and warehouses and refuse rows that can never apply. Reads only.

    Refused: an unknown SKU or warehouse, and a level named twice (one row per SKU and
    warehouse, so that the report says plainly what each level became). The stock rules
    (inactive warehouse, untracked SKU, not enough stock) are the engine's, at apply time.
    """
    plan = BulkPlan(rows=rows)
    variants = _variants_by_sku({row.sku for row in rows})
    warehouses = {
        warehouse.code: warehouse
        for warehouse in Warehouse.objects.filter(code__in={row.warehouse for row in rows})
    }
    first_index: dict[tuple[str, str], int] = {}
    problems = plan.problems
    for index, row in enumerate(rows):
        variant = variants.get(row.sku)
        warehouse = warehouses.get(row.warehouse)
        if variant is None:
            problems.append(_problem(index, row, "unknown_sku", f"No variant has SKU {row.sku!r}."))
        if warehouse is None:
            problems.append(
                _problem(
                    index, row, "unknown_warehouse", f"No warehouse has code {row.warehouse!r}."
                )
            )
        key = (row.sku, row.warehouse)
        if key in first_index:
            problems.append(
                _problem(
                    index,
                    row,
                    "duplicate_row",
                    f"{row.sku} at {row.warehouse} is already row {first_index[key]}; "
                    "give each SKU and warehouse once.",
                )
            )
            continue
        first_index[key] = index
        if variant is None or warehouse is None or problems:
            continue
        plan.changes.append(
            LevelChange(
                variant=variant,
                warehouse=warehouse,
                kind=MovementKind.COUNT if row.counted is not None else MovementKind.ADJUSTMENT,
                reason=row.reason,
                note=row.note,
                count=row.counted,
                delta_on_hand=row.delta or 0,
                expected_on_hand=row.expected_on_hand,
                document=row.document,
                reference=row.reference,
            )
        )
    if problems:
        plan.changes = []
    return plan


def _variants_by_sku(skus: set[str]) -> dict[str, Variant]:
    """The variants with these SKUs, loaded with only what the engine reads of them."""
    return write_backend().variants_by_sku(skus)


VARIANT_NAMES = ("id", "sku", "manage_stock")
VARIANTS_BY_SKU_SQL = (
    f"SELECT {', '.join(VARIANT_NAMES)} FROM {Variant._meta.db_table} WHERE sku = ANY(%s::text[])"
)


def variants_by_sku_postgres(skus: set[str]) -> dict[str, Variant]:
    # One array parameter: `sku__in` would prepare 10,000 parameters one by one, which took
    # longer than the query.
    with connection.cursor() as cursor:
        cursor.execute(VARIANTS_BY_SKU_SQL, [list(skus)])
        rows = cursor.fetchall()
    alias = connection.alias  # read once: `connection` is a thread-local proxy
    return {row[1]: loaded_instance(Variant, alias, VARIANT_NAMES, row) for row in rows}


def variants_by_sku_portable(skus: set[str]) -> dict[str, Variant]:
    return {
        variant.sku: variant
        for variant in Variant.objects.filter(sku__in=skus).only(*VARIANT_NAMES)
    }


def _problem(index: int, row: BulkRow, code: str, message: str) -> RowProblem:
    field_name = "warehouse" if code == "unknown_warehouse" else "sku"
    return RowProblem(
        index=index,
        sku=row.sku,
        warehouse=row.warehouse,
        code=code,
        message=message,
        field=field_name,
    )


def apply_bulk_stock(
    plan: BulkPlan,
    *,
    actor: Actor,
    source: str = MovementSource.API,
    is_dry_run: bool = False,
) -> BulkResult:
    """Apply every change of a clean plan, or none, in one `apply_changes` transaction.

    Locks every level of the batch (ascending primary key) and publishes one
    `stock.changed` batch after the commit. A dry run takes the same locks and computes the
    same outcomes, then rolls everything back: no balance, no ledger row, no publication.
    Raises `BulkRejected` with a problem per refused row; nothing is written then.
    """
    if plan.problems:
        raise ValueError("A plan with problems cannot be applied.")
    try:
        with transaction.atomic():
            outcomes = apply_changes(plan.changes, actor=actor, source=source)
            if is_dry_run:
                # Rolls back this block, and with it the on_commit publication registered
                # inside it; ledger ids drawn from the sequence stay used.
                transaction.set_rollback(True)
    except BatchRejected as rejected:
        raise BulkRejected(
            "Some rows were refused; nothing was written.",
            problems=[_engine_problem(index, plan, error) for index, error in rejected.errors],
        ) from None
    return BulkResult(outcomes=outcomes, is_dry_run=is_dry_run)


def _engine_problem(index: int, plan: BulkPlan, error: StockError) -> RowProblem:
    row = plan.rows[index]
    return RowProblem(
        index=index,
        sku=row.sku,
        warehouse=row.warehouse,
        code=error.code,
        message=error.message,
        field=error.details.get("field"),
        details=error.details,
    )
