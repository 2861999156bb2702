"""Checking a counts file against the catalogue, then applying it as one batch."""

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import cast

from stock.actors import Actor
from stock.csv_io.reading import CountsFile, RowError, read_counts
from stock.errors import StockError
from stock.models import MovementKind, MovementSource, Variant
from stock.services import BatchRejected, LevelChange, apply_changes
from warehouses.models import Warehouse

# Keeps each `IN (...)` lookup of a very large file to a reasonable statement size.
_LOOKUP_BATCH = 5000


@dataclass(slots=True)
class CountsPlan:
    """The changes a clean file would make, and the file line of each."""

    changes: list[LevelChange] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


def plan_counts(counts: CountsFile, *, warehouse_ids: set[int] | None = None) -> CountsPlan:
    """Resolve SKUs and warehouses and refuse rows the engine would refuse. Reads only.

    `warehouse_ids`: where the importing user may change stock (None: everywhere)."""
    plan = CountsPlan()
    variants = _variants_by_sku({row.sku for row in counts.rows})
    warehouses = {
        warehouse.code: warehouse
        for warehouse in Warehouse.objects.filter(code__in={row.warehouse for row in counts.rows})
    }
    for row in counts.rows:
        found = len(plan.errors)
        variant = variants.get(row.sku)
        if variant is None:
            plan.errors.append(
                RowError(line=row.line, column="sku", message=f"Unknown SKU {row.sku!r}.")
            )
        elif not variant.manage_stock:
            plan.errors.append(
                RowError(
                    line=row.line,
                    column="sku",
                    message=f"{row.sku} does not track stock (manage stock is off).",
                )
            )
        warehouse = warehouses.get(row.warehouse)
        if warehouse is None:
            plan.errors.append(
                RowError(
                    line=row.line,
                    column="warehouse",
                    message=f"Unknown warehouse {row.warehouse!r}.",
                )
            )
        elif not warehouse.is_active:
            plan.errors.append(
                RowError(
                    line=row.line,
                    column="warehouse",
                    message=f"Warehouse {row.warehouse} is inactive: it takes no counts.",
                )
            )
        elif warehouse_ids is not None and warehouse.pk not in warehouse_ids:
            plan.errors.append(
                RowError(
                    line=row.line,
                    column="warehouse",
                    message=f"You may not change stock at {row.warehouse}.",
                )
            )
        # A row without its variant or warehouse has had its error recorded just above.
        if len(plan.errors) > found or variant is None or warehouse is None:
            continue
        plan.changes.append(
            LevelChange(
                variant=variant,
                warehouse=warehouse,
                kind=MovementKind.COUNT,
                reason=row.reason,
                note=row.note,
                count=row.counted,
                document=counts.document,
                reference=counts.reference(row.line),
            )
        )
        plan.lines.append(row.line)
    return plan


def _variants_by_sku(skus: Iterable[str]) -> dict[str, Variant]:
    ordered = sorted(skus)
    variants: dict[str, Variant] = {}
    for start in range(0, len(ordered), _LOOKUP_BATCH):
        batch = ordered[start : start + _LOOKUP_BATCH]
        variants.update((variant.sku, variant) for variant in Variant.objects.filter(sku__in=batch))
    return variants


@dataclass(frozen=True, slots=True)
class CountVariance:
    line: int
    sku: str
    warehouse: str
    counted: int
    variance: int


@dataclass(slots=True)
class ImportReport:
    filename: str
    sha256: str
    rows: int = 0
    applied: int = 0
    unchanged: int = 0
    replayed: int = 0
    errors: list[RowError] = field(default_factory=list)
    variances: list[CountVariance] = field(default_factory=list)
    checked_only: bool = False

    @property
    def is_clean(self) -> bool:
        return not self.errors


def import_counts(
    data: bytes,
    *,
    filename: str,
    actor: Actor,
    check_only: bool = False,
    warehouse_ids: set[int] | None = None,
) -> ImportReport:
    """Check the whole file, then apply every row as one batch, or nothing at all.

    Rows go through `apply_changes` with source CSV, so the balance rules, the locks and
    the `stock.changed` events are the engine's. A row's reference is the file's SHA-256
    plus its line: a second import of the same bytes is reported as replayed.
    """
    counts = read_counts(data, filename=filename)
    # Rows that read well are looked up even when others did not: one pass lists it all.
    plan = plan_counts(counts, warehouse_ids=warehouse_ids)
    report = ImportReport(filename=counts.filename, sha256=counts.sha256, rows=len(counts.rows))
    if counts.errors or plan.errors:
        report.errors = sorted(counts.errors + plan.errors, key=lambda error: error.line)
        return report
    if check_only:
        report.checked_only = True
        return report
    try:
        outcomes = apply_changes(plan.changes, actor=actor, source=MovementSource.CSV)
    except BatchRejected as rejected:
        report.errors = rejection_errors(rejected, plan.lines)
        return report
    tally = Counter(outcome.outcome for outcome in outcomes)
    report.applied, report.unchanged = tally["applied"], tally["unchanged"]
    report.replayed = tally["replayed"]
    report.variances = [
        CountVariance(
            line=line,
            sku=outcome.change.variant.sku,
            warehouse=outcome.change.warehouse.code,
            counted=cast(int, outcome.change.count),  # plan_counts gives every row its count
            variance=outcome.variance,
        )
        for line, outcome in zip(plan.lines, outcomes, strict=True)
        if outcome.outcome == "applied"
    ]
    return report


def rejection_errors(rejected: BatchRejected, lines: Sequence[int]) -> list[RowError]:
    """The engine's refusals, each placed on the file line of the change it refused."""
    return sorted(
        (
            RowError(line=lines[index], column=_column_for(error), message=str(error))
            for index, error in rejected.errors
        ),
        key=lambda error: error.line,
    )


def _column_for(error: StockError) -> str:
    if "warehouse" in error.details:
        return "warehouse"
    if "sku" in error.details:
        return "sku"
    return "counted"
