"""Reading a counts file: encoding, header and rows, every problem named by line and column.

Nothing here touches the database; `importing` checks the rows against the catalogue.
"""

import codecs
import csv
import hashlib
import io
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePath

from stock.csv_io.export import EXPORT_COLUMNS
from stock.models import ReasonCode
from stock.services.ledger import MAX_QUANTITY

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
