"""CSV export of stock levels and CSV import of counts.

The admin, the management commands and, later, the API only wire these functions to their
input and output. An import is checked as a whole before anything is written, and applied
as one batch through `stock.services.apply_changes`: every row or none. Each row's ledger
reference is the file's SHA-256 plus its line, so importing the same file again is a replay.

- `export`: levels streamed out as CSV.
- `reading`: a counts file read and checked on its own (no database).
- `importing`: rows checked against the catalogue and applied as one batch.
"""

from stock.csv_io.export import EXPORT_CHUNK_ROWS, EXPORT_COLUMNS, export_csv_chunks, export_rows
from stock.csv_io.importing import (
    CountsPlan,
    CountVariance,
    ImportReport,
    import_counts,
    plan_counts,
    rejection_errors,
)
from stock.csv_io.reading import (
    DEFAULT_REASON,
    EXPORT_ONLY_COLUMNS,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    CountRow,
    CountsFile,
    RowError,
    read_counts,
)

__all__ = [
    "DEFAULT_REASON",
    "EXPORT_CHUNK_ROWS",
    "EXPORT_COLUMNS",
    "EXPORT_ONLY_COLUMNS",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "CountRow",
    "CountVariance",
    "CountsFile",
    "CountsPlan",
    "ImportReport",
    "RowError",
    "export_csv_chunks",
    "export_rows",
    "import_counts",
    "plan_counts",
    "read_counts",
    "rejection_errors",
]
