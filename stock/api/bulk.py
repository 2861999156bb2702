"""The bulk stock request read by hand, and its per-row report.

A DRF serializer per row costs about a millisecond; 10,000 rows would spend the whole time
budget of the endpoint on validation. This reader is a plain loop over the parsed JSON that
checks what `stock.api.serializers.bulk` documents (the schema's serializers, kept equal to
it by a test), names every problem by row index and field, and refuses what it does not
know.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from rest_framework import status

from inventory_hub.api.errors import ApiError
from stock.models import ReasonCode
from stock.services.bulk import COUNT_REASON, DELTA_REASON, BulkResult, BulkRow, RowProblem
from stock.services.ledger import MAX_QUANTITY

MAX_ROWS = 10_000
SKU_MAX_LENGTH = 64
WAREHOUSE_MAX_LENGTH = 32
NOTE_MAX_LENGTH = 2000
ROW_REFERENCE_MAX_LENGTH = 200
# Room for "user:<id>:bulk:<batch>:<sku>@<warehouse>" within the ledger's 255 characters.
BATCH_REFERENCE_MAX_LENGTH = 100
BODY_FIELDS = frozenset({"rows", "reference"})
ROW_FIELDS = frozenset(
    {"sku", "warehouse", "counted", "delta", "reason", "note", "reference", "expected_on_hand"}
)
_REASONS = frozenset(ReasonCode.values)
_REASON_LIST = ", ".join(ReasonCode.values)
# Tells a field left out from one sent as null.
_ABSENT = object()
_TRUE = frozenset({"1", "true"})
_FALSE = frozenset({"0", "false"})


@dataclass(slots=True)
class BulkRequest:
    rows: list[BulkRow] = field(default_factory=list)
    reference: str | None = None


def read_dry_run(query_params: Mapping[str, str]) -> bool:
    value = query_params.get("dry_run")
    if value is None or value.lower() in _FALSE:
        return False
    if value.lower() in _TRUE:
        return True
    raise _field_error("dry_run", "Must be 1, true, 0 or false.")


def read_bulk_request(data: object, *, user_id: int) -> BulkRequest:
    """Check the body's shape and every row's fields; raise a 400 listing every problem.

    Row references are namespaced per client, as single adjustments do. A row without its
    own reference in a batch with one gets "<batch>:<sku>@<warehouse>", so re-sending the
    batch is a replay for deltas too; rows with neither have no reference.
    """
    if not isinstance(data, dict):
        raise _field_error("non_field_errors", "Expected a JSON object with a rows list.")
    unknown = sorted(_shown(name) for name in set(data) - BODY_FIELDS)
    if unknown:
        raise ApiError(
            status_code=status.HTTP_400_BAD_REQUEST,
            code="validation_error",
            message=f"{unknown[0]}: Unknown field.",
            details={name: ["Unknown field."] for name in unknown},
        )
    batch_reference = data.get("reference")
    if batch_reference is not None:
        message = _text_problem(batch_reference, BATCH_REFERENCE_MAX_LENGTH)
        if message:
            raise _field_error("reference", message)
        batch_reference = batch_reference.strip()
    rows = data.get("rows")
    if rows is None:
        raise _field_error("rows", "This field is required.")
    if not isinstance(rows, list):
        raise _field_error("rows", "Expected a list of rows.")
    if not rows:
        raise _field_error("rows", "Give at least one row.")
    if len(rows) > MAX_ROWS:
        raise _field_error(
            "rows", f"At most {MAX_ROWS} rows per request, got {len(rows)}; split the batch."
        )
    prefix = f"user:{user_id}:"
    batch_prefix = f"{prefix}bulk:{batch_reference}:" if batch_reference else None
    request = BulkRequest(reference=batch_reference)
    problems: list[RowProblem] = []
    for index, raw in enumerate(rows):
        row = _read_row(index, raw, problems)
        if row is None or problems:
            continue
        own_reference = row.pop("reference", None)
        if own_reference is not None:
            reference = prefix + own_reference
        elif batch_prefix is not None:
            reference = f"{batch_prefix}{row['sku']}@{row['warehouse']}"
        else:
            reference = None
        request.rows.append(
            BulkRow(document=batch_reference or own_reference or "", reference=reference, **row)
        )
    if problems:
        raise rows_refused(
            problems,
            status_code=status.HTTP_400_BAD_REQUEST,
            code="validation_error",
            total=len(rows),
        )
    return request


def _read_row(index: int, raw: object, problems: list[RowProblem]) -> dict | None:
    """The row's BulkRow fields, or None after recording each of its problems."""
    if not isinstance(raw, dict):
        problems.append(_row_problem(index, None, None, None, "Expected a JSON object."))
        return None
    get = raw.get
    sku, warehouse = get("sku"), get("warehouse")
    shown_sku = _shown(sku) if isinstance(sku, str) else None
    shown_warehouse = _shown(warehouse) if isinstance(warehouse, str) else None
    found = len(problems)

    def refuse(name: str, message: str) -> None:
        problems.append(_row_problem(index, shown_sku, shown_warehouse, name, message))

    if not raw.keys() <= ROW_FIELDS:
        for name in sorted(raw.keys() - ROW_FIELDS):
            refuse(_shown(name), "Unknown field.")
    for name, value, limit in (
        ("sku", sku, SKU_MAX_LENGTH),
        ("warehouse", warehouse, WAREHOUSE_MAX_LENGTH),
    ):
        message = _required(raw, name) or _text_problem(value, limit)
        if message:
            refuse(name, message)
    counted, delta = get("counted", _ABSENT), get("delta", _ABSENT)
    if (counted is _ABSENT) == (delta is _ABSENT):
        refuse("counted", "Give exactly one of counted or delta.")
    elif counted is not _ABSENT:
        message = _integer_problem(counted, minimum=0)
        if message:
            refuse("counted", message)
    else:
        message = _integer_problem(delta, minimum=-MAX_QUANTITY)
        if message is None and delta == 0:
            message = "Must not be zero."
        if message:
            refuse("delta", message)
    reason = get("reason", _ABSENT)
    if reason is _ABSENT:
        reason = COUNT_REASON if delta is _ABSENT else DELTA_REASON
    elif not isinstance(reason, str) or reason not in _REASONS:
        refuse("reason", f"{reason!r:.80} is not a valid choice; use one of: {_REASON_LIST}.")
    note = get("note", "")
    if not isinstance(note, str):
        refuse("note", "This field may not be null." if note is None else "Not a valid string.")
    elif len(note) > NOTE_MAX_LENGTH:
        refuse("note", f"Ensure this field has no more than {NOTE_MAX_LENGTH} characters.")
    elif message := _unstorable(note):
        refuse("note", message)
    reference = get("reference", _ABSENT)
    if reference is not _ABSENT:
        message = _text_problem(reference, ROW_REFERENCE_MAX_LENGTH)
        if message:
            refuse("reference", message)
    expected = get("expected_on_hand", _ABSENT)
    if expected is not _ABSENT:
        message = _integer_problem(expected, minimum=0)
        if message:
            refuse("expected_on_hand", message)
    # A sku or warehouse that is not text has been refused above; tested for the checker.
    if len(problems) > found or not isinstance(sku, str) or not isinstance(warehouse, str):
        return None
    row = {
        "sku": sku.strip(),
        "warehouse": warehouse.strip(),
        "reason": reason,
        "counted": None if counted is _ABSENT else counted,
        "delta": None if delta is _ABSENT else delta,
        "note": note,
        "expected_on_hand": None if expected is _ABSENT else expected,
    }
    if reference is not _ABSENT:
        row["reference"] = reference.strip()
    return row


def _required(raw: dict, name: str) -> str | None:
    if name not in raw:
        return "This field is required."
    return None


def _text_problem(value: object, limit: int) -> str | None:
    # DRF's CharField trims surrounding whitespace; so does this reader, for the same input.
    if value is None:
        return "This field may not be null."
    if not isinstance(value, str):
        return "Not a valid string."
    text = value.strip()
    if not text:
        return "This field may not be blank."
    if len(text) > limit:
        return f"Ensure this field has no more than {limit} characters."
    return _unstorable(text)


def _unstorable(text: str) -> str | None:
    """What PostgreSQL text cannot hold, refused as DRF's CharField refuses it."""
    if "\x00" in text:
        return "Null characters are not allowed."
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError:
            return "Surrogate characters are not allowed."
    return None


def _shown(text: str) -> str:
    """Text echoed in an error, with lone surrogates escaped: JSON output cannot hold them."""
    if text.isascii():
        return text
    return text.encode("utf-8", "backslashreplace").decode()


def _integer_problem(value: object, *, minimum: int) -> str | None:
    if value is None:
        return "This field may not be null."
    # type() rather than isinstance(): true and false are bools, which are ints in Python.
    if type(value) is not int:
        return "Must be a JSON integer."
    if value < minimum:
        return f"Ensure this value is greater than or equal to {minimum}."
    if value > MAX_QUANTITY:
        return f"Ensure this value is less than or equal to {MAX_QUANTITY}."
    return None


def _row_problem(
    index: int, sku: str | None, warehouse: str | None, name: str | None, message: str
) -> RowProblem:
    return RowProblem(
        index=index,
        sku=sku,
        warehouse=warehouse,
        code="validation_error",
        message=message,
        field=name,
    )


def _field_error(name: str, message: str) -> ApiError:
    return ApiError(
        status_code=status.HTTP_400_BAD_REQUEST,
        code="validation_error",
        message=f"{name}: {message}",
        details={name: [message]},
    )


# --- Errors and the report -----------------------------------------------------------------


def rows_refused(
    problems: list[RowProblem], *, status_code: int, code: str, total: int
) -> ApiError:
    """One error listing every refused row; the message names the first row and field."""
    first = problems[0]
    where = f"rows[{first.index}]" + (f".{first.field}" if first.field else "")
    rows = len({problem.index for problem in problems})
    return ApiError(
        status_code=status_code,
        code=code,
        message=f"{rows} of {total} rows refused, nothing was written. "
        f"First: {where}: {first.message}",
        details={"errors": [problem_json(problem) for problem in problems]},
    )


def problem_json(problem: RowProblem) -> dict:
    return {
        "index": problem.index,
        "sku": problem.sku,
        "warehouse": problem.warehouse,
        "field": problem.field,
        "code": problem.code,
        "message": problem.message,
        "details": problem.details,
    }


def report(request: BulkRequest, result: BulkResult) -> dict:
    """The answer: a summary and, per row in request order, what happened and the balance."""
    counts = {"applied": 0, "unchanged": 0, "replayed": 0}
    rows: list[dict] = []
    append = rows.append
    for index, (row, outcome) in enumerate(zip(request.rows, result.outcomes, strict=True)):
        level = outcome.level
        ledger_row = outcome.row
        counts[outcome.outcome] += 1
        append(
            {
                "index": index,
                "sku": row.sku,
                "warehouse": row.warehouse,
                "outcome": outcome.outcome,
                "delta_on_hand": ledger_row["delta_on_hand"] if ledger_row else 0,
                "on_hand": level.on_hand,
                "available": level.available,
                "movement_id": None
                if result.is_dry_run or ledger_row is None
                else ledger_row["id"],
            }
        )
    return {
        "dry_run": result.is_dry_run,
        "reference": request.reference,
        "summary": {"rows": len(rows), **counts},
        "rows": rows,
    }


def out_of_scope(request: BulkRequest, warehouse_ids: Iterable[int], allowed: set[int]):
    """Problems for the rows whose warehouse is not in `allowed` (ids in row order)."""
    return [
        RowProblem(
            index=index,
            sku=row.sku,
            warehouse=row.warehouse,
            code="permission_denied",
            message=f"You may not change stock at warehouse {row.warehouse}.",
            field="warehouse",
        )
        for index, (row, warehouse_id) in enumerate(zip(request.rows, warehouse_ids, strict=True))
        if warehouse_id not in allowed
    ]
