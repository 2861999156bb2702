"""A warehouse system's report, checked at the door: shape, types, ranges, sizes.

Nothing here reads the database; the service looks the transfer and the SKUs up.
"""

from __future__ import annotations

import json
from typing import Any

from transfers.models import RejectedDisposition
from transfers.services import ReportLine, SystemReport
from transfers.services.wms import ReportKind

MAX_LINES = 1000
MAX_QUANTITY = 1_000_000_000
MAX_TEXT = {"transfer": 100, "receipt_reference": 100, "sku": 64}


class MalformedReport(Exception):
    def __init__(self, message: str, *, field: str = "", code: str = "validation_error") -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code


def parse_report(body: bytes) -> SystemReport:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise MalformedReport(f"The body is not JSON: {error}", code="malformed_json") from None
    if not isinstance(data, dict):
        raise MalformedReport("The body is a JSON object.")
    kind = data.get("type")
    if kind not in ReportKind.ALL:
        raise MalformedReport(
            f"type is one of {', '.join(ReportKind.ALL)}.", field="type", code="unknown_type"
        )
    reference = _text(data, "transfer", required=True)
    if kind != ReportKind.RECEIVED:
        return SystemReport(kind=kind, transfer_reference=reference)
    over_receipt = data.get("over_receipt", False)
    if not isinstance(over_receipt, bool):
        raise MalformedReport("over_receipt is true or false.", field="over_receipt")
    return SystemReport(
        kind=kind,
        transfer_reference=reference,
        receipt_reference=_text(data, "receipt_reference", required=True),
        lines=_lines(data.get("lines")),
        over_receipt=over_receipt,
    )


def _lines(raw: Any) -> tuple[ReportLine, ...]:
    if not isinstance(raw, list) or not raw:
        raise MalformedReport("lines is a non-empty list.", field="lines")
    if len(raw) > MAX_LINES:
        raise MalformedReport(f"At most {MAX_LINES} lines.", field="lines")
    lines = []
    for index, entry in enumerate(raw):
        where = f"lines[{index}]"
        if not isinstance(entry, dict):
            raise MalformedReport(f"{where} is an object.", field=where)
        rejected = _quantity(entry, "rejected", where)
        lines.append(
            ReportLine(
                sku=_text(entry, "sku", required=True, where=where),
                accepted=_quantity(entry, "accepted", where),
                rejected=rejected,
                rejection_reason=_text(entry, "rejection_reason", where=where, limit=20),
                rejected_disposition=(
                    _text(entry, "rejected_disposition", where=where, limit=20)
                    or RejectedDisposition.UNSELLABLE
                ),
            )
        )
    return tuple(lines)


def _text(data: dict, name: str, *, required: bool = False, where: str = "", limit: int = 0) -> str:
    field = f"{where}.{name}" if where else name
    value = data.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise MalformedReport(f"{field} is a string.", field=field)
    value = value.strip()
    if required and not value:
        raise MalformedReport(f"{field} is required.", field=field)
    if "\x00" in value:
        raise MalformedReport(f"{field} holds a NUL character.", field=field)
    maximum = limit or MAX_TEXT.get(name, 200)
    if len(value) > maximum:
        raise MalformedReport(f"{field} is at most {maximum} characters.", field=field)
    return value


def _quantity(data: dict, name: str, where: str) -> int:
    value = data.get(name, 0)
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedReport(f"{where}.{name} is a whole number.", field=f"{where}.{name}")
    if not 0 <= value <= MAX_QUANTITY:
        raise MalformedReport(
            f"{where}.{name} is from 0 to {MAX_QUANTITY}.", field=f"{where}.{name}"
        )
    return value
