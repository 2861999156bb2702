"""Options of a partner connector, checked when the connector is built."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum

from connectors.base import OrderState, RemoteStatus

DEFAULT_FIELD_MAPPING: dict[str, str] = {
    "sku": "sku",
    "quantity": "quantity",
    "status": "status",
    "location": "location",
    "updated_at": "updated_at",
    "order_reference": "id",
    "order_state": "status",
    "order_lines": "lines",
    "line_sku": "sku",
    "line_quantity": "quantity",
    "order_updated_at": "updated_at",
}
CSV_FIELDS = ("sku", "quantity", "status", "location", "updated_at")
# sku and quantity are required; the other columns are read when the header has them.
DEFAULT_CSV_COLUMNS: dict[str, str] = {name: name for name in CSV_FIELDS}

DEFAULT_STATUS_VALUES: dict[str, RemoteStatus] = {
    "in_stock": RemoteStatus.IN_STOCK,
    "instock": RemoteStatus.IN_STOCK,
    "out_of_stock": RemoteStatus.OUT_OF_STOCK,
    "outofstock": RemoteStatus.OUT_OF_STOCK,
    "backorder": RemoteStatus.BACKORDER,
    "onbackorder": RemoteStatus.BACKORDER,
}
DEFAULT_ORDER_STATES: dict[str, OrderState] = {
    "pending": OrderState.HOLD,
    "placed": OrderState.HOLD,
    "on-hold": OrderState.HOLD,
    "hold": OrderState.HOLD,
    "paid": OrderState.PAID,
    "processing": OrderState.PAID,
    "shipped": OrderState.SHIPPED,
    "completed": OrderState.SHIPPED,
    "cancelled": OrderState.RELEASED,
    "canceled": OrderState.RELEASED,
    "refunded": OrderState.RELEASED,
    "released": OrderState.RELEASED,
}
DEFAULT_PUSH_BATCH_SIZE = 100


@dataclass(frozen=True, slots=True)
class PartnerOptions:
    signature_header: str = "X-Hub-Signature-256"
    signature_encoding: str = "hex"
    signature_prefix: str = "sha256="
    delivery_header: str = "X-Hub-Delivery"
    items_path: str = "items"
    orders_path: str = "orders"
    field_mapping: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_FIELD_MAPPING))
    status_values: Mapping[str, RemoteStatus] = field(
        default_factory=lambda: dict(DEFAULT_STATUS_VALUES)
    )
    order_state_values: Mapping[str, OrderState] = field(
        default_factory=lambda: dict(DEFAULT_ORDER_STATES)
    )
    csv_columns: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_CSV_COLUMNS))
    delimiter: str = ","
    default_location: str = ""
    feed_url: str = ""
    push_url: str = ""
    push_batch_size: int = DEFAULT_PUSH_BATCH_SIZE

    @classmethod
    def from_config(cls, options: Mapping[str, object]) -> PartnerOptions:
        unknown = sorted(set(options) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"Unknown partner option(s): {', '.join(unknown)}")
        encoding = _text_option(options, "signature_encoding", "hex")
        if encoding not in ("hex", "base64"):
            raise ValueError("signature_encoding must be 'hex' or 'base64'")
        mapping = _mapping_option(options, "field_mapping", set(DEFAULT_FIELD_MAPPING))
        columns = _mapping_option(options, "csv_columns", set(CSV_FIELDS))
        delimiter = _text_option(options, "delimiter", ",")
        if len(delimiter) != 1 or delimiter in '\r\n"':
            raise ValueError("delimiter must be one character (not a quote or line break)")
        batch = options.get("push_batch_size", DEFAULT_PUSH_BATCH_SIZE)
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise ValueError("push_batch_size must be a whole number of at least 1")
        return cls(
            signature_header=_text_option(options, "signature_header", "X-Hub-Signature-256")
            or "X-Hub-Signature-256",
            signature_encoding=encoding,
            signature_prefix=_text_option(
                options, "signature_prefix", "sha256=" if encoding == "hex" else ""
            ),
            delivery_header=_text_option(options, "delivery_header", "X-Hub-Delivery"),
            items_path=_text_option(options, "items_path", "items"),
            orders_path=_text_option(options, "orders_path", "orders"),
            field_mapping={**DEFAULT_FIELD_MAPPING, **mapping},
            status_values={
                **DEFAULT_STATUS_VALUES,
                **_enum_mapping(options, "status_values", RemoteStatus),
            },
            order_state_values={
                **DEFAULT_ORDER_STATES,
                **_enum_mapping(options, "order_state_values", OrderState),
            },
            csv_columns={**DEFAULT_CSV_COLUMNS, **columns},
            delimiter=delimiter,
            default_location=_text_option(options, "default_location", ""),
            feed_url=_text_option(options, "feed_url", ""),
            push_url=_text_option(options, "push_url", ""),
            push_batch_size=batch,
        )


def _text_option(options: Mapping[str, object], name: str, default: str) -> str:
    value = options.get(name, default)
    if not isinstance(value, str):
        raise ValueError(f"{name} must be text")
    return value


def _mapping_option(options: Mapping[str, object], name: str, allowed: set[str]) -> dict[str, str]:
    value = options.get(name) or {}
    if not isinstance(value, Mapping):
        raise ValueError(f"{name} must map field names to paths or columns")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise ValueError(
            f"{name}: unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(allowed))}"
        )
    if not all(isinstance(v, str) and v for v in value.values()):
        raise ValueError(f"{name}: every value must be a non-empty path or column name")
    return {str(k): v for k, v in value.items()}


def _enum_mapping(options: Mapping[str, object], name: str, enum: type[StrEnum]) -> dict:
    value = options.get(name) or {}
    if not isinstance(value, Mapping):
        raise ValueError(f"{name} must map the partner's words to the hub's")
    result = {}
    for word, target in value.items():
        try:
            result[str(word).lower()] = enum(target)
        except ValueError:
            choices = ", ".join(member.value for member in enum)
            raise ValueError(f"{name}: {target!r} is not one of {choices}") from None
    return result
