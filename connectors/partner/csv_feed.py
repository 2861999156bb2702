"""CSV stock feeds: uploaded by staff or fetched from the partner's URL."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import replace

from connectors.base import MalformedInbound, RemoteStatus, RemoteStock
from connectors.partner.fields import parse_time, stock_status, whole_number
from connectors.partner.options import DEFAULT_CSV_COLUMNS, DEFAULT_STATUS_VALUES


class MalformedFeed(MalformedInbound):
    """A CSV feed with a problem: the message names it; `line` (1 is the header) and
    `column` (the header name, None when the problem is not one cell's) say where."""

    def __init__(self, message: str, *, line: int, column: str | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.column = column


def parse_stock_csv(
    data: bytes,
    *,
    columns: Mapping[str, str] | None = None,
    delimiter: str = ",",
    default_location: str = "",
    status_values: Mapping[str, RemoteStatus] | None = None,
) -> list[RemoteStock]:
    """Stock records from a CSV file, checked as a whole.

    `columns` maps the hub's fields (sku and quantity required; status, location,
    updated_at optional) to header names. Raises `MalformedFeed` naming the line and
    column of the first problem; nothing is returned from a file with any problem.
    """
    columns = {**DEFAULT_CSV_COLUMNS, **(columns or {})}
    statuses = status_values or DEFAULT_STATUS_VALUES
    reader = csv.reader(io.StringIO(_decode(data), newline=""), delimiter=delimiter, strict=True)
    try:
        header_names, positions = _read_header(next(reader, None), columns)
        records: list[RemoteStock] = []
        first_line_of: dict[tuple[str, str], int] = {}
        for row in reader:
            line = reader.line_num
            _refuse_nul(row, header_names, line=line)
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header_names):
                raise MalformedFeed(
                    f"line {line}: {len(row)} fields, the header has {len(header_names)} "
                    f"(is the delimiter {delimiter!r} right?)",
                    line=line,
                )
            feed_row = _Row(row, line, positions, columns)
            record = feed_row.record(statuses, default_location)
            key = (record.sku, record.location)
            if key in first_line_of:
                raise MalformedFeed(
                    f"line {line}: SKU {record.sku!r}"
                    + (f" at {record.location!r}" if record.location else "")
                    + f" appears twice (also line {first_line_of[key]})",
                    line=line,
                    column=columns["sku"],
                )
            first_line_of[key] = line
            records.append(feed_row.stamped(record))
    except csv.Error as failure:
        raise MalformedFeed(f"line {reader.line_num}: {failure}", line=reader.line_num) from None
    return records


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as failure:
        line = data[: failure.start].count(b"\n") + 1
        raise MalformedFeed(
            f"line {line}: the file is not UTF-8 text (byte {failure.start} cannot be read)",
            line=line,
        ) from None


def _read_header(
    header_row: list[str] | None, columns: Mapping[str, str]
) -> tuple[list[str], dict[str, int]]:
    """The header's names, and the position of each mapped field it has."""
    if header_row is None or not any(cell.strip() for cell in header_row):
        raise MalformedFeed("line 1: the file is empty, expected a header line", line=1)
    _refuse_nul(header_row, None, line=1)
    header_names = [cell.strip() for cell in header_row]
    positions: dict[str, int] = {}
    for name, column in columns.items():
        if column in header_names:
            positions[name] = header_names.index(column)
        elif name in ("sku", "quantity"):
            raise MalformedFeed(
                f"line 1: no column {column!r} (mapped to {name}); the header has: "
                f"{', '.join(header_names)}",
                line=1,
                column=column,
            )
    return header_names, positions


class _Row:
    """One data line of the feed, its cells read by the hub's field names."""

    def __init__(
        self, row: list[str], line: int, positions: dict[str, int], columns: Mapping[str, str]
    ) -> None:
        self.row, self.line, self.positions, self.columns = row, line, positions, columns

    def cell(self, name: str) -> str:
        return self.row[self.positions[name]].strip() if name in self.positions else ""

    def where(self, name: str) -> str:
        return f"line {self.line}: column {self.columns.get(name)!r}"

    def refused(self, name: str, problem: MalformedInbound) -> MalformedFeed:
        return MalformedFeed(str(problem), line=self.line, column=self.columns.get(name))

    def record(self, statuses: Mapping[str, RemoteStatus], default_location: str) -> RemoteStock:
        """The line's record without its time (read once the line is known to be new)."""
        sku = self.cell("sku")
        if not sku:
            raise MalformedFeed(
                f"{self.where('sku')} is empty", line=self.line, column=self.columns["sku"]
            )
        raw_quantity = self.cell("quantity")
        if not raw_quantity:
            raise MalformedFeed(
                f"{self.where('quantity')} is empty",
                line=self.line,
                column=self.columns["quantity"],
            )
        try:
            quantity = whole_number(raw_quantity, self.where("quantity"))
        except MalformedInbound as problem:
            raise self.refused("quantity", problem) from None
        try:
            status = stock_status(self.cell("status") or None, self.where("status"), statuses)
        except MalformedInbound as problem:
            raise self.refused("status", problem) from None
        if status is None:
            status = RemoteStatus.IN_STOCK if quantity > 0 else RemoteStatus.OUT_OF_STOCK
        return RemoteStock(
            sku=sku,
            remote_id=sku,
            quantity=quantity,
            status=status,
            location=self.cell("location") or default_location,
        )

    def stamped(self, record: RemoteStock) -> RemoteStock:
        try:
            updated_at = parse_time(self.cell("updated_at") or None, self.where("updated_at"))
        except MalformedInbound as problem:
            raise self.refused("updated_at", problem) from None
        return replace(record, updated_at=updated_at)


def _refuse_nul(row: list[str], header: list[str] | None, *, line: int) -> None:
    """PostgreSQL text holds no NUL, and no SKU or location has one: any cell with it
    refuses the file, whichever column it is in."""
    for index, cell in enumerate(row):
        if "\x00" in cell:
            named = header is not None and index < len(header)
            column = header[index] if named else None  # type: ignore[index]
            where = f"column {column!r}" if column is not None else f"field {index + 1}"
            raise MalformedFeed(
                f"line {line}: {where} contains a NUL character", line=line, column=column
            )
