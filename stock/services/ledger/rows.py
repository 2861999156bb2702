"""The ledger's row format and reference formats, defined once for every writer.

A ledger row is written by `apply_changes` (row by row, from Python) and by the two
set-based order statements (`statements`): all of them take their column list from
`LEDGER_COLUMNS` through `ledger_insert_sql`, which refuses a statement that leaves a
column out, and their references from the `ReferenceFormat`s below, in Python or in SQL.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from string import Formatter

from stock.models import StockLevel, StockMovement

QUANTITIES = ("on_hand", "reserved", "unsellable", "safety_stock", "inbound")
# (quantity, its ledger delta column, its ledger balance column), spelled out once.
QUANTITY_KEYS = tuple((name, f"delta_{name}", f"{name}_after") for name in QUANTITIES)
DELTA_COLUMNS = tuple(delta for _, delta, _ in QUANTITY_KEYS)
AFTER_COLUMNS = tuple(after for _, _, after in QUANTITY_KEYS)
LEVEL_TABLE = StockLevel._meta.db_table
MOVEMENT_TABLE = StockMovement._meta.db_table

# The columns that differ from row to row, with their PostgreSQL types (the small-batch
# write reads them with json_to_recordset).
ROW_COLUMNS = (
    ("level_id", "bigint"),
    ("variant_id", "bigint"),
    ("warehouse_id", "bigint"),
    ("kind", "text"),
    ("reason", "text"),
    ("note", "text"),
    *((delta, "integer") for delta in DELTA_COLUMNS),
    *((after, "integer") for after in AFTER_COLUMNS),
    ("document", "text"),
    ("reference", "text"),
)
ROW_NAMES = tuple(name for name, _ in ROW_COLUMNS)
# The columns one batch writes alike on each of its rows.
SHARED_COLUMNS = (
    "actor_kind",
    "actor_user_id",
    "actor_label",
    "source",
    "occurred_at",
    "recorded_at",
)
# Every column a writer fills; `id` comes from the table's sequence.
LEDGER_COLUMNS = (*ROW_NAMES, *SHARED_COLUMNS)


def ledger_insert_sql(values: Mapping[str, str], source: str, *, with_id: bool = False) -> str:
    """`INSERT INTO <ledger> (<every column>) SELECT <values> <source>`.

    `values` maps each of `LEDGER_COLUMNS` (and `id` when `with_id`) to its SQL
    expression; a missing or unknown column raises, so no writer can leave one out.
    """
    columns = ("id", *LEDGER_COLUMNS) if with_id else LEDGER_COLUMNS
    if values.keys() != set(columns):
        missing = sorted(set(columns) - values.keys())
        unknown = sorted(values.keys() - set(columns))
        raise ValueError(f"A ledger row needs every column: missing {missing}, unknown {unknown}")
    return (
        f"INSERT INTO {MOVEMENT_TABLE} ({', '.join(columns)}) "
        f"SELECT {', '.join(values[column] for column in columns)} {source}"
    )


def delta_values(**expressions: str) -> dict[str, str]:
    """Each quantity's delta column: the expression given for it, else 0."""
    unknown = expressions.keys() - set(QUANTITIES)
    if unknown:
        raise ValueError(f"Not a quantity: {sorted(unknown)}")
    return {f"delta_{name}": expressions.get(name, "0") for name in QUANTITIES}


def after_values(**expressions: str) -> dict[str, str]:
    """Each quantity's balance-after column; every quantity must be given."""
    if expressions.keys() != set(QUANTITIES):
        raise ValueError(f"Give the balance after of each of {QUANTITIES}")
    return {f"{name}_after": expressions[name] for name in QUANTITIES}


@dataclass(frozen=True, slots=True)
class ReferenceFormat:
    """A ledger reference format, e.g. "order:{order}/allocation:{allocation}/release".

    Called with values it is the reference (Python); `sql` gives the same text as an SQL
    expression over columns, for the set-based statements. A replay is found by its
    reference, so both must agree to the character.
    """

    template: str

    def __call__(self, **values: object) -> str:
        return self.template.format(**values)

    def sql(self, **expressions: str) -> str:
        parts = []
        for literal, name, _, _ in Formatter().parse(self.template):
            if literal:
                if "'" in literal:
                    raise ValueError("A reference format quotes nothing.")
                parts.append(f"'{literal}'")
            if name is not None:
                parts.append(expressions[name])
        return " || ".join(parts)


RESERVE_REFERENCE = ReferenceFormat("order:{order}/line:{line}/wh:{warehouse}/reserve")
# The shortfall only shrinks, so its size before a fill makes each fill's reference new.
FILL_REFERENCE = ReferenceFormat("order:{order}/line:{line}/wh:{warehouse}/fill:{short}")
RELEASE_REFERENCE = ReferenceFormat("order:{order}/allocation:{allocation}/release")
SHIP_REFERENCE = ReferenceFormat("order:{order}/allocation:{allocation}/ship")
# One per (transfer, transition, step, line): a retried transition finds its rows replayed.
TRANSFER_REFERENCE = ReferenceFormat("transfer:{transfer}:{transition}:{step}:line:{line}")
