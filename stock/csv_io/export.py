"""Stock levels as CSV, streamed in chunks so memory stays flat whatever the count."""

import csv
import io
from collections.abc import Generator, Iterator

from django.db.models import QuerySet
from django.db.models.functions import Coalesce

from stock.models import StockLevel
from stock.models.levels import status_for

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
) -> Generator[str, None, None]:
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
