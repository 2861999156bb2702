"""Orders: reserve on placing, firm on paying, deduct on shipping, release on cancel/expiry.

- `placing`: `place_order`, which tries the planned path, then the locked one;
- `planned` and `planned_sql`: plan without locks, reserve in one statement (PostgreSQL);
- `locked` and `locked_sql`: lock, plan and hold; every answer but a planned success;
- `lifecycle`: pay, ship, cancel, fill a shortfall, cancel short units;
- `expiry`: release the holds of unpaid orders past their expiry;
- `inputs`: what an order asks for, checked; `records`: what the paths share.

Every path changes stock through the ledger (`stock.services.ledger`).
"""

from .expiry import release_expired_holds
from .inputs import MAX_HOLD_MINUTES, MAX_LINES, OrderLineInput, OrderRequest
from .lifecycle import cancel_order, cancel_short_units, fill_shortfall, pay_order, ship_order
from .placing import place_order
from .records import PlacedOrder

__all__ = [
    "MAX_HOLD_MINUTES",
    "MAX_LINES",
    "OrderLineInput",
    "OrderRequest",
    "PlacedOrder",
    "cancel_order",
    "cancel_short_units",
    "fill_shortfall",
    "pay_order",
    "place_order",
    "release_expired_holds",
    "ship_order",
]
