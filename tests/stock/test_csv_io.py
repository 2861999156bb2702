import csv
import hashlib
import io
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from stock.actors import Actor
from stock.csv_io import EXPORT_COLUMNS, RowError, export_csv_chunks, import_counts, read_counts
from stock.models import MovementKind, MovementSource, ReasonCode, StockLevel, StockMovement
from stock.services import mark_unsellable, set_safety_stock
from tests.stock.factories import SYSTEM, ProductFactory, VariantFactory, stocked
from tests.warehouses.factories import WarehouseFactory

pytestmark = pytest.mark.django_db

IMPORTER = Actor.system("csv-tests")


def balances() -> dict[tuple[str, str], tuple[int, int, int]]:
    return {
        (level.variant.sku, level.warehouse.code): (level.on_hand, level.unsellable, level.version)
        for level in StockLevel.objects.select_related("variant", "warehouse")
    }


def snapshot() -> tuple[dict, int]:
    return balances(), StockMovement.objects.count()


@pytest.fixture
def shelf():
    """Two SKUs in two warehouses: A-1 has 10 at BAL and 4 at AUS, B-2 has 7 at BAL."""
    bal, aus = WarehouseFactory(code="BAL"), WarehouseFactory(code="AUS")
    a1, b2 = VariantFactory(sku="A-1"), VariantFactory(sku="B-2")
    stocked(a1, bal, 10)
    stocked(a1, aus, 4)
    stocked(b2, bal, 7)
    return {"bal": bal, "aus": aus, "a1": a1, "b2": b2}


# --- Import: the happy path -------------------------------------------------------------------


def test_import_sets_counted_on_hand_and_records_each_variance(shelf, verify_ledger_clean):
    data = b"sku,warehouse,counted\nA-1,BAL,12\nA-1,AUS,4\nB-2,BAL,0\n"
    sha = hashlib.sha256(data).hexdigest()

    report = import_counts(data, filename="stocktake.csv", actor=IMPORTER)

    assert (report.rows, report.applied, report.unchanged, report.replayed) == (3, 2, 1, 0)
    assert report.errors == []
    assert [(v.line, v.sku, v.warehouse, v.counted, v.variance) for v in report.variances] == [
        (2, "A-1", "BAL", 12, 2),
        (4, "B-2", "BAL", 0, -7),
    ]
    assert balances() == {
        ("A-1", "BAL"): (12, 0, 2),
        ("A-1", "AUS"): (4, 0, 1),
        ("B-2", "BAL"): (0, 0, 2),
    }
    rows = list(
        StockMovement.objects.filter(source=MovementSource.CSV)
        .order_by("id")
        .values_list("kind", "reason", "delta_on_hand", "reference", "document", "actor_label")
    )
    document = f"CSV stocktake.csv sha256 {sha[:12]}"
    assert rows == [
        (MovementKind.COUNT, ReasonCode.STOCKTAKE, 2, f"{sha}:2", document, "csv-tests"),
        (MovementKind.COUNT, ReasonCode.STOCKTAKE, -7, f"{sha}:4", document, "csv-tests"),
    ]
    verify_ledger_clean()


def test_import_uses_the_rows_reason_and_note(shelf):
    data = b"sku,warehouse,counted,reason,note\nA-1,BAL,9,cycle_count,aisle 4\n"

    import_counts(data, filename="c.csv", actor=IMPORTER)

    movement = StockMovement.objects.get(source=MovementSource.CSV)
    assert (movement.reason, movement.note, movement.delta_on_hand) == (
        "cycle_count",
        "aisle 4",
        -1,
    )


def test_import_accepts_a_byte_order_mark_crlf_lines_padding_and_blank_lines(shelf):
    data = "\ufeffSKU , Warehouse,counted\r\n A-1 ,BAL, 11 \r\n\r\nB-2,BAL,7\r\n".encode()

    report = import_counts(data, filename="excel.csv", actor=IMPORTER)

    assert (report.errors, report.applied, report.unchanged) == ([], 1, 1)
    assert balances()[("A-1", "BAL")][0] == 11


def test_importing_the_same_file_twice_changes_nothing_the_second_time(shelf, verify_ledger_clean):
    data = b"sku,warehouse,counted\nA-1,BAL,3\nA-1,AUS,4\nB-2,BAL,9\n"
    first = import_counts(data, filename="count.csv", actor=IMPORTER)
    after_first = snapshot()

    second = import_counts(data, filename="count-again.csv", actor=IMPORTER)

    assert (first.applied, first.unchanged, first.replayed) == (2, 1, 0)
    assert (second.applied, second.unchanged, second.replayed, second.errors) == (0, 1, 2, [])
    assert snapshot() == after_first
    verify_ledger_clean()


def test_import_creates_the_level_of_a_sku_never_stocked_in_that_warehouse(shelf):
    data = b"sku,warehouse,counted\nB-2,AUS,5\n"

    report = import_counts(data, filename="new.csv", actor=IMPORTER)

    assert report.applied == 1
    assert balances()[("B-2", "AUS")] == (5, 0, 1)


def test_check_only_reports_a_clean_file_and_writes_nothing(shelf):
    before = snapshot()

    report = import_counts(
        b"sku,warehouse,counted\nA-1,BAL,1\n", filename="c.csv", actor=IMPORTER, check_only=True
    )

    assert (report.checked_only, report.rows, report.errors, report.applied) == (True, 1, [], 0)
    assert snapshot() == before


# --- Import: every kind of error, with its line, and nothing written -------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            b"sku,warehouse,counted\nA-1,BAL,3\nNOPE,BAL,3\n",
            [RowError(line=3, column="sku", message="Unknown SKU 'NOPE'.")],
        ),
        (
            b"sku,warehouse,counted\nA-1,BAL,3\nA-1,XXX,3\n",
            [RowError(line=3, column="warehouse", message="Unknown warehouse 'XXX'.")],
        ),
        (
            b"sku,warehouse,counted\nA-1,BAL,-2\n",
            [RowError(line=2, column="counted", message="counted must not be negative, got -2.")],
        ),
        (
            b"sku,warehouse,counted\nA-1,BAL,2.5\nA-1,AUS,ten\n",
            [
                RowError(
                    line=2, column="counted", message="counted must be a whole number, got '2.5'."
                ),
                RowError(
                    line=3, column="counted", message="counted must be a whole number, got 'ten'."
                ),
            ],
        ),
        (
            b"sku,warehouse,counted\n,BAL,1\nA-1,,1\nA-1,AUS,\n",
            [
                RowError(line=2, column="sku", message="sku is empty."),
                RowError(line=3, column="warehouse", message="warehouse is empty."),
                RowError(line=4, column="counted", message="counted is empty."),
            ],
        ),
        (
            b"sku,warehouse,counted\nA-1,BAL,1\nB-2,BAL,1\nA-1,BAL,2\n",
            [
                RowError(
                    line=4,
                    column="sku",
                    message="Duplicate row: A-1 at BAL is already on line 2.",
                )
            ],
        ),
        (
            b"sku,counted\nA-1,1\n",
            [
                RowError(
                    line=1,
                    message="Header: missing column(s): warehouse. Expected sku,warehouse,counted "
                    "(optionally also reason,note).",
                )
            ],
        ),
        (
            b"sku,warehouse,counted,bin\nA-1,BAL,1,4\n",
            [
                RowError(
                    line=1,
                    message="Header: unknown column(s): bin. Expected sku,warehouse,counted "
                    "(optionally also reason,note).",
                )
            ],
        ),
        (
            b"sku,warehouse,counted\nA-1,BAL,1\nA-1,AUS,1,extra\nB-2,BAL\n",
            [
                RowError(line=3, message="Expected 3 values (sku,warehouse,counted), found 4."),
                RowError(line=4, message="Expected 3 values (sku,warehouse,counted), found 2."),
            ],
        ),
        (
            b"sku,warehouse,counted\nA-1,BAL,1\nA-1,AUS,\xe9\n",
            [
                RowError(
                    line=3,
                    message="Not UTF-8 text (byte 0xe9); save the file as 'CSV UTF-8' and "
                    "upload it again.",
                )
            ],
        ),
        (
            b"sku,warehouse,counted,reason\nA-1,BAL,1,guess\n",
            [
                RowError(
                    line=2,
                    column="reason",
                    message="Unknown reason 'guess'; use one of: "
                    + ", ".join(ReasonCode.values)
                    + ".",
                )
            ],
        ),
        (
            b"sku,warehouse,counted,reason\nA-1,BAL,1,other\n",
            [RowError(line=2, column="note", message="Reason 'other' needs a note.")],
        ),
        (
            b"",
            [
                RowError(
                    line=1, message="The file is empty; expected the header sku,warehouse,counted."
                )
            ],
        ),
        (
            b"sku,warehouse,counted\n",
            [RowError(line=1, message="The file has no rows after the header.")],
        ),
    ],
    ids=[
        "unknown-sku",
        "unknown-warehouse",
        "negative",
        "not-an-integer",
        "empty-values",
        "duplicate-row",
        "missing-column",
        "extra-column",
        "wrong-number-of-values",
        "bad-encoding",
        "unknown-reason",
        "other-without-note",
        "empty-file",
        "header-only",
    ],
)
def test_import_reports_each_bad_row_with_its_line_and_applies_nothing(shelf, data, expected):
    before = snapshot()

    report = import_counts(data, filename="bad.csv", actor=IMPORTER)

    assert report.errors == expected
    assert (report.applied, report.unchanged, report.replayed) == (0, 0, 0)
    assert snapshot() == before


def test_import_refuses_a_count_on_an_inactive_warehouse_and_applies_no_row(shelf):
    shelf["aus"].is_active = False
    shelf["aus"].save()
    before = snapshot()

    report = import_counts(
        b"sku,warehouse,counted\nA-1,BAL,1\nA-1,AUS,2\n", filename="c.csv", actor=IMPORTER
    )

    assert report.errors == [
        RowError(
            line=3, column="warehouse", message="Warehouse AUS is inactive: it takes no counts."
        )
    ]
    assert snapshot() == before


def test_import_refuses_a_sku_that_does_not_track_stock(shelf):
    VariantFactory(sku="GIFT-CARD", manage_stock=False)
    before = snapshot()

    report = import_counts(
        b"sku,warehouse,counted\nA-1,BAL,1\nGIFT-CARD,BAL,2\n", filename="c.csv", actor=IMPORTER
    )

    assert report.errors == [
        RowError(
            line=3, column="sku", message="GIFT-CARD does not track stock (manage stock is off)."
        )
    ]
    assert snapshot() == before


def test_import_reports_every_problem_of_the_file_at_once(shelf):
    data = b"sku,warehouse,counted\nNOPE,BAL,1\nA-1,BAL,x\nA-1,XXX,1\nB-2,BAL,1\n"
    before = snapshot()

    report = import_counts(data, filename="c.csv", actor=IMPORTER)

    assert [(error.line, error.column) for error in report.errors] == [
        (2, "sku"),
        (3, "counted"),
        (4, "warehouse"),
    ]
    assert snapshot() == before


def test_a_quoted_value_spanning_lines_keeps_later_line_numbers_right(shelf):
    data = b'sku,warehouse,counted,note\nA-1,BAL,1,"two\nlines"\nB-2,BAL,-1,\n'

    report = import_counts(data, filename="c.csv", actor=IMPORTER)

    assert report.errors == [
        RowError(line=4, column="counted", message="counted must not be negative, got -1.")
    ]


def test_rule_broken_under_the_lock_is_reported_on_its_line_and_nothing_is_applied(
    shelf, verify_ledger_clean
):
    # Given 3 of A-1's 4 units at AUS are held back as safety stock and 2 of B-2's 7 at BAL
    # are unsellable, a count of 2 at AUS and of 1 at BAL break the balance rules.
    set_safety_stock(variant=shelf["a1"], warehouse=shelf["aus"], quantity=3, actor=SYSTEM)
    mark_unsellable(variant=shelf["b2"], warehouse=shelf["bal"], quantity=2, actor=SYSTEM)
    before = snapshot()

    report = import_counts(
        b"sku,warehouse,counted\nA-1,BAL,20\nA-1,AUS,2\nB-2,BAL,1\n",
        filename="c.csv",
        actor=IMPORTER,
    )

    assert [(error.line, error.column) for error in report.errors] == [
        (3, "counted"),
        (4, "counted"),
    ]
    assert "would leave -1 available" in report.errors[0].message
    assert "unsellable (2) cannot exceed on hand (1)" in report.errors[1].message
    assert report.applied == 0
    assert snapshot() == before
    verify_ledger_clean()


def test_read_counts_names_the_file_without_its_directories():
    counts = read_counts(b"sku,warehouse,counted\nA,B,1\n", filename="/tmp/x/../counts.csv")

    assert counts.filename == "counts.csv"
    assert counts.document == f"CSV counts.csv sha256 {counts.sha256[:12]}"


# --- Export ------------------------------------------------------------------------------------


def test_export_lists_every_level_with_status_and_effective_threshold():
    bal, aus = WarehouseFactory(code="BAL"), WarehouseFactory(code="AUS")
    sheet = VariantFactory(sku="A-1", product=ProductFactory(name="Percale, queen"))
    towel = VariantFactory(
        sku="B-2", product=ProductFactory(name="=HYPERLINK()"), low_stock_threshold=2
    )
    stocked(sheet, bal, 10)
    level = stocked(sheet, aus, 3)
    level.low_stock_threshold = 0
    level.save(update_fields=["low_stock_threshold"])
    stocked(towel, bal, 2)
    set_safety_stock(variant=towel, warehouse=bal, quantity=2, actor=SYSTEM)

    text = "".join(export_csv_chunks(StockLevel.objects.all()))

    assert text == (
        ",".join(EXPORT_COLUMNS) + "\r\n"
        'A-1,"Percale, queen",AUS,3,0,0,0,0,3,in_stock,0,\r\n'
        'A-1,"Percale, queen",BAL,10,0,0,0,0,10,in_stock,5,\r\n'
        "B-2,'=HYPERLINK(),BAL,2,0,0,2,0,0,out_of_stock,2,\r\n"
    )


def test_export_chunks_hold_at_most_the_requested_rows():
    warehouse = WarehouseFactory(code="BAL")
    for _ in range(5):
        stocked(VariantFactory(), warehouse, 1)

    chunks = list(export_csv_chunks(StockLevel.objects.all(), rows_per_chunk=2))

    assert [chunk.count("\r\n") for chunk in chunks] == [3, 2, 1]


# --- Management commands ---------------------------------------------------------------------


def test_import_counts_command_applies_a_file_and_prints_the_totals(shelf, tmp_path):
    path = tmp_path / "count.csv"
    path.write_bytes(b"sku,warehouse,counted\nA-1,BAL,8\nB-2,BAL,7\n")
    out = StringIO()

    call_command("import_counts", str(path), stdout=out)

    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    assert out.getvalue() == (
        f"count.csv (sha256 {sha[:12]}): 2 rows, 1 applied, 1 unchanged, 0 replayed, 0 errors.\n"
    )
    assert balances()[("A-1", "BAL")][0] == 8


def test_import_counts_command_fails_listing_each_bad_line_and_applies_nothing(shelf, tmp_path):
    path = tmp_path / "count.csv"
    path.write_bytes(b"sku,warehouse,counted\nA-1,BAL,8\nNOPE,BAL,1\n")
    err = StringIO()
    before = snapshot()

    with pytest.raises(CommandError, match=r"1 problem\(s\) in count.csv; nothing was applied."):
        call_command("import_counts", str(path), stderr=err)

    assert err.getvalue() == "count.csv:3 [sku]: Unknown SKU 'NOPE'.\n"
    assert snapshot() == before


def test_export_stock_command_writes_the_csv_to_a_file(shelf, tmp_path):
    path = tmp_path / "out.csv"

    call_command("export_stock", "--output", str(path), "--warehouse", "AUS", stderr=StringIO())

    assert path.read_bytes().decode() == (
        ",".join(EXPORT_COLUMNS)
        + "\r\n"
        + f"A-1,{shelf['a1'].product.name},AUS,4,0,0,0,0,4,low_stock,5,\r\n"
    )


def test_export_stock_command_writes_to_stdout(shelf):
    out = StringIO()

    call_command("export_stock", stdout=out)

    assert out.getvalue() == "".join(export_csv_chunks(StockLevel.objects.all()))
    assert out.getvalue().count("\r\n") == 4


# --- Export → edit → import ------------------------------------------------------------------


def fill_counted(exported: str, counts: dict[tuple[str, str], str]) -> str:
    """What a person does in a spreadsheet: type counts into the export's counted column."""
    rows = list(csv.DictReader(io.StringIO(exported)))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS)
    writer.writeheader()
    for row in rows:
        row["counted"] = counts.get((row["sku"], row["warehouse"]), "")
        writer.writerow(row)
    return out.getvalue()


def test_export_edited_and_imported_back_with_the_commands_sets_the_counted_rows(shelf, tmp_path):
    exported, edited = tmp_path / "levels.csv", tmp_path / "counted.csv"
    call_command("export_stock", "--output", str(exported), stderr=StringIO())
    edited.write_text(
        fill_counted(exported.read_text(), {("A-1", "BAL"): "12", ("B-2", "BAL"): "7"}),
        encoding="utf-8",
    )
    out = StringIO()

    call_command("import_counts", str(edited), stdout=out)

    assert "2 rows, 1 applied, 1 unchanged, 0 replayed, 0 errors." in out.getvalue()
    on_hand = {key: value[0] for key, value in balances().items()}
    assert on_hand == {("A-1", "BAL"): 12, ("A-1", "AUS"): 4, ("B-2", "BAL"): 7}
    movement = StockMovement.objects.latest("pk")
    assert (movement.kind, movement.source, movement.delta_on_hand) == (
        MovementKind.COUNT,
        MovementSource.CSV,
        2,
    )


def test_an_export_without_any_count_filled_in_is_refused_and_changes_nothing(shelf):
    exported = "".join(export_csv_chunks(StockLevel.objects.all()))
    before = snapshot()

    report = import_counts(exported.encode(), filename="levels.csv", actor=SYSTEM)

    assert [error.line for error in report.errors] == [1]
    assert snapshot() == before


def test_a_plain_counts_file_still_refuses_an_empty_counted_cell(shelf):
    counts = read_counts(b"sku,warehouse,counted\nA-1,BAL,\n", filename="c.csv")

    assert counts.errors == [RowError(line=2, column="counted", message="counted is empty.")]
