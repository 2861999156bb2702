"""CSV export of stock levels and CSV import of counts.

The admin, the management commands and, later, the API only wire these functions to their
input and output. An import is checked as a whole before anything is written, and applied
as one batch through `stock.services.apply_changes`: every row or none. Each row's ledger
reference is the file's SHA-256 plus its line, so importing the same file again is a replay.
"""

import codecs
import csv
import hashlib
import io
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath

from django.db.models import QuerySet
from django.db.models.functions import Coalesce

from stock.actors import Actor
from stock.errors import StockError
from stock.models import MovementKind, MovementSource, ReasonCode, StockLevel, Variant
from stock.models.levels import status_for
from stock.services import BatchRejected, LevelChange, apply_changes
from stock.services.ledger import MAX_QUANTITY
from warehouses.models import Warehouse

# --- Export -------------------------------------------------------------------------------

EXPORT_COLUMNS = (
    "sku",
    "product",
    "warehouse",
    "on_hand",
    "reserved",
    "unsellable",
    "safety_stock",
    "inbound",
    "available",
    "status",
    "threshold",
    # Left empty: fill in what was counted and import the file back as counts.
    "counted",
)
# Rows fetched per database round trip and written per yielded chunk: memory stays flat
# whatever the number of levels.
EXPORT_CHUNK_ROWS = 2000
# A spreadsheet runs a cell starting with one of these as a formula.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _spreadsheet_safe(text: str) -> str:
    return f"'{text}" if text.startswith(_FORMULA_PREFIXES) else text


def export_rows(queryset: QuerySet[StockLevel] | None = None) -> Iterator[tuple]:
    """One tuple per level, in EXPORT_COLUMNS order, read with a server-side cursor."""
    if queryset is None:
        queryset = StockLevel.objects.all()
    values = queryset.annotate(
        effective_threshold=Coalesce("low_stock_threshold", "variant__low_stock_threshold")
    ).values_list(
        "variant__sku",
        "variant__product__name",
        "warehouse__code",
        "on_hand",
        "reserved",
        "unsellable",
        "safety_stock",
        "inbound",
        "available",
        "is_backorder_allowed",
        "effective_threshold",
    )
    rows = values.iterator(chunk_size=EXPORT_CHUNK_ROWS)
    for sku, product, warehouse, *quantities, available, allows, threshold in rows:
        status = status_for(available=available, threshold=threshold, allows_backorders=allows)
        yield (
            sku,
            _spreadsheet_safe(product),
            warehouse,
            *quantities,
            available,
            status.value,
            threshold,
            "",
        )


def export_csv_chunks(
    queryset: QuerySet[StockLevel] | None = None, *, rows_per_chunk: int = EXPORT_CHUNK_ROWS
) -> Iterator[str]:
    """The export as CSV text, header first, in chunks of `rows_per_chunk` rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    pending = 0
    for row in export_rows(queryset):
        writer.writerow(row)
        pending += 1
        if pending >= rows_per_chunk:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue()


# --- Import: reading ------------------------------------------------------------------------

REQUIRED_COLUMNS = ("sku", "warehouse", "counted")
OPTIONAL_COLUMNS = ("reason", "note")
# The export's other columns: read back as they are and ignored, so an export is a counts file.
EXPORT_ONLY_COLUMNS = tuple(
    name for name in EXPORT_COLUMNS if name not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS
)
DEFAULT_REASON = ReasonCode.STOCKTAKE
# ReasonCode.values builds a new list on each access; a file may have 500,000 rows.
_REASONS = frozenset(ReasonCode.values)
_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+")
_DOCUMENT_MAX_LENGTH = 200


@dataclass(frozen=True, slots=True)
class RowError:
    """What is wrong on one line of the file (the header is line 1)."""

    line: int
    message: str
    column: str = ""


@dataclass(frozen=True, slots=True)
class CountRow:
    line: int
    sku: str
    warehouse: str
    counted: int
    reason: str
    note: str


@dataclass(slots=True)
class CountsFile:
    """A file read and checked for shape and values; nothing looked up yet."""

    filename: str
    sha256: str
    rows: list[CountRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def document(self) -> str:
        suffix = f" sha256 {self.sha256[:12]}"
        room = _DOCUMENT_MAX_LENGTH - len("CSV ") - len(suffix)
        return f"CSV {self.filename[:room]}{suffix}"

    def reference(self, line: int) -> str:
        return f"{self.sha256}:{line}"


def read_counts(data: bytes, *, filename: str) -> CountsFile:
    """Decode and parse a counts file; every problem is collected with its line number."""
    counts = CountsFile(
        filename=PurePath(filename).name or "upload.csv", sha256=hashlib.sha256(data).hexdigest()
    )
    text = _decode(data, counts.errors)
    if text is None or _has_nul(text, counts.errors):
        return counts
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = _read_header(reader, counts.errors)
        if header is None:
            return counts
        _read_rows(reader, header, counts)
    except csv.Error as error:
        counts.errors.append(RowError(line=reader.line_num, message=f"Unreadable CSV: {error}."))
    if not counts.rows and not counts.errors:
        counts.errors.append(RowError(line=1, message="The file has no rows after the header."))
    counts.errors.sort(key=lambda error: error.line)
    return counts


def _decode(data: bytes, errors: list[RowError]) -> str | None:
    # Spreadsheets often save UTF-8 with a byte-order mark; it is not part of the header.
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        errors.append(
            RowError(
                line=line,
                message=f"Not UTF-8 text (byte 0x{data[error.start]:02x}); "
                "save the file as 'CSV UTF-8' and upload it again.",
            )
        )
        return None


def _has_nul(text: str, errors: list[RowError]) -> bool:
    """PostgreSQL text holds no NUL: a file with one is refused whole, naming each place."""
    if "\x00" not in text:
        return False
    message = "Contains a NUL character (byte 0x00); remove it and upload the file again."
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] = []
    previous_end = 0
    try:
        for record in reader:
            line, previous_end = previous_end + 1, reader.line_num
            header = header or [name.strip().lower() for name in record]
            for index, value in enumerate(record):
                if "\x00" in value:
                    named = line > 1 and index < len(header) and "\x00" not in header[index]
                    column = header[index] if named else f"column {index + 1}"
                    errors.append(RowError(line=line, column=column, message=message))
    except csv.Error:
        pass
    if not errors:
        errors.append(RowError(line=text[: text.index("\x00")].count("\n") + 1, message=message))
    return True


def _read_header(reader: Iterator[list[str]], errors: list[RowError]) -> list[str] | None:
    expected = ",".join(REQUIRED_COLUMNS)
    try:
        names = [name.strip().lower() for name in next(reader)]
    except StopIteration:
        errors.append(
            RowError(line=1, message=f"The file is empty; expected the header {expected}.")
        )
        return None
    problems = []
    duplicated = sorted(name for name, seen in Counter(names).items() if seen > 1)
    if duplicated:
        problems.append(f"column(s) repeated: {', '.join(duplicated)}")
    missing = [name for name in REQUIRED_COLUMNS if name not in names]
    if missing:
        problems.append(f"missing column(s): {', '.join(missing)}")
    allowed = REQUIRED_COLUMNS + OPTIONAL_COLUMNS + EXPORT_ONLY_COLUMNS
    unknown = [name or "(empty)" for name in names if name not in allowed]
    if unknown:
        problems.append(f"unknown column(s): {', '.join(unknown)}")
    if problems:
        errors.append(
            RowError(
                line=1,
                message=f"Header: {'; '.join(problems)}. Expected {expected} "
                f"(optionally also {','.join(OPTIONAL_COLUMNS)}).",
            )
        )
        return None
    return names


def _read_rows(reader, header: list[str], counts: CountsFile) -> None:
    first_line_of: dict[tuple[str, str], int] = {}
    previous_end = reader.line_num
    for record in reader:
        # A quoted value may span lines: a row starts on the line after the previous one ended.
        line, previous_end = previous_end + 1, reader.line_num
        if not any(value.strip() for value in record):
            continue
        if len(record) != len(header):
            counts.errors.append(
                RowError(
                    line=line,
                    message=f"Expected {len(header)} values ({','.join(header)}), "
                    f"found {len(record)}.",
                )
            )
            continue
        values = {name: value.strip() for name, value in zip(header, record, strict=True)}
        if _not_counted(header, values):
            continue
        row = _read_row(line, values, counts.errors)
        key = (values["sku"], values["warehouse"])
        if all(key):
            if key in first_line_of:
                counts.errors.append(
                    RowError(
                        line=line,
                        column="sku",
                        message=f"Duplicate row: {key[0]} at {key[1]} is already on line "
                        f"{first_line_of[key]}.",
                    )
                )
                continue
            first_line_of[key] = line
        if row is not None:
            counts.rows.append(row)


def _not_counted(header: list[str], values: dict[str, str]) -> bool:
    """An exported file comes back with `counted` filled in only on the rows counted."""
    return not values["counted"] and set(EXPORT_ONLY_COLUMNS).issubset(header)


def _read_row(line: int, values: dict[str, str], errors: list[RowError]) -> CountRow | None:
    found: list[RowError] = []
    for name in ("sku", "warehouse"):
        if not values[name]:
            found.append(RowError(line=line, column=name, message=f"{name} is empty."))
    counted = _read_counted(line, values["counted"], found)
    reason = values.get("reason") or DEFAULT_REASON
    if reason not in _REASONS:
        found.append(
            RowError(
                line=line,
                column="reason",
                message=f"Unknown reason {reason!r}; use one of: {', '.join(ReasonCode.values)}.",
            )
        )
    note = values.get("note", "")
    if reason == ReasonCode.OTHER and not note:
        found.append(RowError(line=line, column="note", message="Reason 'other' needs a note."))
    errors.extend(found)
    if found or counted is None:
        return None
    return CountRow(
        line=line,
        sku=values["sku"],
        warehouse=values["warehouse"],
        counted=counted,
        reason=reason,
        note=note,
    )


def _read_counted(line: int, raw: str, found: list[RowError]) -> int | None:
    if not raw:
        found.append(RowError(line=line, column="counted", message="counted is empty."))
        return None
    if not _WHOLE_NUMBER.fullmatch(raw):
        found.append(
            RowError(
                line=line, column="counted", message=f"counted must be a whole number, got {raw!r}."
            )
        )
        return None
    counted = int(raw)
    if counted < 0:
        found.append(
            RowError(
                line=line, column="counted", message=f"counted must not be negative, got {raw}."
            )
        )
        return None
    if counted > MAX_QUANTITY:
        found.append(
            RowError(
                line=line, column="counted", message=f"counted must be at most {MAX_QUANTITY}."
            )
        )
        return None
    return counted


# --- Import: checking against the catalogue and applying ----------------------------------

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
        if len(plan.errors) > found:
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
            counted=outcome.change.count,
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
