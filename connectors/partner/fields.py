"""Reading and writing partner records: dotted paths and checked values.

Every reader raises `MalformedInbound` naming where the value was (`items[3].stock.qty`,
`line 4: column 'Qty'`), so a partner can find and fix the record.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime

from connectors.base import MalformedInbound, RemoteStatus
from stock.services.ledger import MAX_QUANTITY

# A path that leads nowhere (unlike a present null).
MISSING = object()


def get_path(value: object, path: str) -> object:
    """Follow a dotted path ("stock.0.quantity"); "" is the value itself."""
    if not path:
        return value
    for part in path.split("."):
        if isinstance(value, dict):
            if part not in value:
                return MISSING
            value = value[part]
        elif isinstance(value, list) and part.isdigit():
            if int(part) >= len(value):
                return MISSING
            value = value[int(part)]
        else:
            return MISSING
    return value


def set_path(target: dict, path: str, value: object) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value


def describe_path(path: str) -> str:
    return path or "body"


def required_text(row: object, path: str, here: str) -> str:
    if not isinstance(row, dict):
        raise MalformedInbound(f"{here}: expected an object")
    value = get_path(row, path)
    if value is MISSING or value is None or (isinstance(value, str) and not value.strip()):
        raise MalformedInbound(f"{here}.{path}: required")
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise MalformedInbound(f"{here}.{path}: expected text, got {value!r}")
    return str(value).strip()


def whole_number(value: object, where: str) -> int:
    if isinstance(value, bool):
        raise MalformedInbound(f"{where}: {value!r} is not a whole number")
    try:
        number = float(value.strip()) if isinstance(value, str) else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise MalformedInbound(f"{where}: {value!r} is not a whole number") from None
    if not math.isfinite(number) or number != int(number):
        raise MalformedInbound(f"{where}: {value!r} is not a whole number")
    if number < 0:
        raise MalformedInbound(f"{where}: {value!r} is negative")
    if number > MAX_QUANTITY:
        raise MalformedInbound(f"{where}: {value!r} is out of range (at most {MAX_QUANTITY})")
    return int(number)


def stock_status(
    value: object, where: str, known: Mapping[str, RemoteStatus]
) -> RemoteStatus | None:
    if value is MISSING or value is None or value == "":
        return None
    word = str(value).strip().lower()
    lowered = {key.lower(): status for key, status in known.items()}
    if word not in lowered:
        raise MalformedInbound(
            f"{where}: {value!r} is not a known stock status "
            f"(known: {', '.join(sorted(lowered))}; add it to status_values)"
        )
    return lowered[word]


def parse_time(value: object, where: str) -> datetime | None:
    if value is MISSING or value is None or value == "":
        return None
    if not isinstance(value, str):
        raise MalformedInbound(f"{where}: {value!r} is not an ISO 8601 time")
    try:
        moment = datetime.fromisoformat(value.strip().replace(" ", "T", 1))
    except ValueError:
        raise MalformedInbound(f"{where}: {value!r} is not an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
