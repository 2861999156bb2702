"""What an order asks for, checked at the door: shapes, ranges and each line's variant.

`order_request` checks what can be refused before anything is read or locked and gives
the `OrderRequest` both placing paths work from; `resolve_lines` checks each line against
the variants found.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from stock.actors import Actor
from stock.errors import InvalidOrder, InvalidQuantity, NotSellable, StockError, UnknownSku
from stock.models import OrderLine, StockLevel, Variant
from warehouses.models import SalesChannel

from ..ledger import MAX_QUANTITY
from ..sourcing import LineRequest

MAX_HOLD_MINUTES = 60 * 24 * 30
MAX_LINES = 500


@dataclass(frozen=True, slots=True)
class OrderLineInput:
    sku: str
    quantity: int


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """An order to place, its order-level inputs checked; its lines are checked against
    the variants by the path that reads them (`resolve_lines`)."""

    channel: SalesChannel
    reference: str  # stripped
    lines: Sequence[OrderLineInput]
    latitude: Decimal | None  # both or neither, rounded to 6 places
    longitude: Decimal | None
    hold_minutes: int
    actor: Actor
    # Hold what can be held and record the rest as short, instead of refusing.
    accept_shortfall: bool = False

    @property
    def shipping(self) -> tuple[float, float] | None:
        if self.latitude is None or self.longitude is None:
            return None
        return (float(self.latitude), float(self.longitude))


def order_request(
    *,
    channel: SalesChannel,
    reference: object,
    lines: Sequence[OrderLineInput],
    actor: Actor,
    shipping_latitude: Decimal | float | None,
    shipping_longitude: Decimal | float | None,
    hold_minutes: int | None,
    accept_shortfall: bool,
) -> OrderRequest:
    """The request `place_order` was given, or the input error of the first thing wrong."""
    reference = require_reference(reference)
    latitude, longitude = require_coordinates(shipping_latitude, shipping_longitude)
    hold = require_hold_minutes(hold_minutes if hold_minutes is not None else channel.hold_minutes)
    if not channel.is_active:
        raise InvalidOrder(f"Channel {channel.code} is inactive.", {"channel": channel.code})
    check_line_shapes(lines)
    return OrderRequest(
        channel=channel,
        reference=reference,
        lines=lines,
        latitude=latitude,
        longitude=longitude,
        hold_minutes=hold,
        actor=actor,
        accept_shortfall=accept_shortfall,
    )


def require_reference(reference: object) -> str:
    if not isinstance(reference, str) or not reference.strip():
        raise InvalidOrder("An order needs a reference.", {"field": "reference"})
    if len(reference) > 100:
        raise InvalidOrder("The reference is longer than 100 characters.", {"field": "reference"})
    return reference.strip()


def require_coordinates(latitude, longitude) -> tuple[Decimal | None, Decimal | None]:
    if latitude is None and longitude is None:
        return None, None
    if latitude is None or longitude is None:
        raise InvalidOrder(
            "Give both shipping latitude and longitude, or neither.", {"field": "shipping"}
        )
    try:
        lat, lon = Decimal(str(latitude)), Decimal(str(longitude))
    except (InvalidOperation, ValueError):
        raise InvalidOrder("Shipping coordinates must be numbers.", {"field": "shipping"}) from None
    if not (lat.is_finite() and lon.is_finite()):
        raise InvalidOrder("Shipping coordinates must be finite numbers.", {"field": "shipping"})
    if not (Decimal(-90) <= lat <= Decimal(90) and Decimal(-180) <= lon <= Decimal(180)):
        raise InvalidOrder("Shipping coordinates are out of range.", {"field": "shipping"})
    return lat.quantize(Decimal("0.000001")), lon.quantize(Decimal("0.000001"))


def require_hold_minutes(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_HOLD_MINUTES:
        raise InvalidOrder(
            f"The hold time must be a whole number of minutes from 1 to {MAX_HOLD_MINUTES}.",
            {"field": "hold_minutes"},
        )
    return value


def check_line_shapes(lines: Sequence[OrderLineInput]) -> None:
    """What can be refused before anything is locked."""
    if not lines:
        raise InvalidOrder("An order needs at least one line.", {"field": "lines"})
    if len(lines) > MAX_LINES:
        raise InvalidOrder(f"An order may have at most {MAX_LINES} lines.", {"field": "lines"})


def quantity_problem(number: int, line: OrderLineInput) -> InvalidQuantity | None:
    # Runs for every line of every order (`are_plain_lines`): nothing is built unless wrong.
    if isinstance(line.quantity, bool) or not isinstance(line.quantity, int):
        message = f"Line {number}: quantity must be a whole number."
    elif not 1 <= line.quantity <= MAX_QUANTITY:
        message = f"Line {number}: quantity must be from 1 to {MAX_QUANTITY}."
    else:
        return None
    return InvalidQuantity(message, {"line": number, "sku": line.sku})


def resolve_lines(
    lines: Sequence[OrderLineInput], known: dict[str, Variant]
) -> tuple[list[LineRequest], dict[int, Variant]]:
    """Check every line against the variants found; raise one error naming each bad line."""
    problems: list[StockError] = []
    first_line_of: dict[str, int] = {}
    requests, variants = [], {}
    for number, line in enumerate(lines, start=1):
        where = {"line": number, "sku": line.sku}
        problem = quantity_problem(number, line)
        if problem is not None:
            problems.append(problem)
            continue
        variant = known.get(line.sku) if isinstance(line.sku, str) else None
        if variant is None:
            problems.append(UnknownSku(f"Line {number}: no variant has SKU {line.sku!r}.", where))
            continue
        if not variant.is_active:
            problems.append(NotSellable(f"Line {number}: {line.sku} is no longer sold.", where))
            continue
        if line.sku in first_line_of:
            problems.append(
                InvalidOrder(
                    f"Line {number}: {line.sku} is already on line {first_line_of[line.sku]}; "
                    "put the whole quantity on one line.",
                    where,
                )
            )
            continue
        first_line_of[line.sku] = number
        variants[number] = variant
        requests.append(
            LineRequest(
                line_number=number,
                variant_id=variant.pk,
                quantity=line.quantity,
                allows_backorders=variant.allows_backorders,
            )
        )
    if problems:
        first = problems[0]
        raise type(first)(
            " ".join(problem.message for problem in problems),
            {"lines": [{"code": p.code, "message": p.message, **p.details} for p in problems]},
        )
    return requests, variants


def refuse_unsellable(
    managed: list[LineRequest],
    variants: dict[int, Variant],
    levels: dict[tuple[int, int], StockLevel],
) -> None:
    stocked = {variant_id for variant_id, _ in levels}
    unsellable = [request for request in managed if request.variant_id not in stocked]
    if unsellable:
        lines = [
            {"code": NotSellable.code, "line": r.line_number, "sku": variants[r.line_number].sku}
            for r in unsellable
        ]
        raise NotSellable(
            " ".join(
                f"Line {item['line']}: no warehouse of this channel stocks {item['sku']}."
                for item in lines
            ),
            {"lines": lines},
        )


def require_line_numbers(line_numbers: Sequence[int], lines: dict[int, OrderLine]) -> list[int]:
    unknown = [n for n in line_numbers if n not in lines]
    if unknown:
        raise InvalidOrder(
            f"The order has no line {', '.join(map(str, unknown))}.", {"lines": unknown}
        )
    return list(dict.fromkeys(line_numbers))


def are_plain_lines(lines: Sequence[OrderLineInput]) -> bool:
    """Lines `resolve_lines` would find nothing wrong with but, perhaps, their SKUs."""
    skus = set()
    for number, line in enumerate(lines, start=1):
        if quantity_problem(number, line) is not None:
            return False
        if not isinstance(line.sku, str) or line.sku in skus:
            return False
        skus.add(line.sku)
    return True
