"""The plain data the optimiser and the rule of thumb take and give (no database, no Django).

The hub builds these from its ledger, forecasts and lanes (`suggestions.positions`); the
replay benchmark builds them from its simulated world. Keys (`sku`, `warehouse`) are any
hashable values: the hub passes ids, the replay passes indexes.
"""

import math
from collections.abc import Hashable
from dataclasses import asdict, dataclass, field
from typing import Literal

LimitedBy = Literal["donor_minimum", "lane_minimum", "lane_capacity", "forecast"]


@dataclass(frozen=True, slots=True)
class Position:
    """One SKU at one warehouse, as the policy sees it at a review."""

    sku: Hashable
    warehouse: Hashable
    # Sellable now: on hand - reserved - unsellable - safety stock (never below 0 here).
    available: int
    # Forecast demand per day and the forecast's error per day (its RMSE).
    daily_demand: float
    daily_error: float = 0.0
    # Units on their way here, as (days from now, units): transfers in transit, inbound.
    arriving: tuple[tuple[int, int], ...] = ()
    # Units the merchant wants kept here whatever happens (a floor for giving stock away).
    minimum: int = 0

    def arriving_within(self, days: int) -> int:
        return sum(units for day, units in self.arriving if day <= days)


@dataclass(frozen=True, slots=True)
class LaneSpec:
    source: Hashable
    destination: Hashable
    lead_time_days: int
    cost_per_unit: float = 0.0
    cost_per_shipment: float = 0.0
    minimum_quantity: int = 0
    # Most units one shipment may carry (all SKUs together); None: no limit.
    capacity: int | None = None
    is_active: bool = True


@dataclass(frozen=True, slots=True)
class Policy:
    """The merchant's settings that the optimiser trades with."""

    # What one sale lost to a stockout costs, in the lanes' currency.
    cost_of_lost_sale: float = 20.0
    # Days until the next proactive review: a suggestion covers lead time + this.
    review_days: int = 7
    # A source keeps at least this many days of its own forecast demand.
    source_cover_days: float = 7.0
    # Moves back along a route within this many days of a move out are never suggested.
    no_return_days: int = 14


def source_minimum(position: Position, policy: Policy) -> int:
    """Units a warehouse keeps when it gives stock away: its own floor, and at least
    `source_cover_days` of its forecast demand."""
    cover = math.ceil(position.daily_demand * policy.source_cover_days - 1e-9)
    return max(position.minimum, cover, 0)


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a move was suggested, as numbers; `text` renders the sentence."""

    limited_by: LimitedBy
    donor_cover_before_days: float | None  # None: the donor has no forecast demand
    donor_cover_after_days: float | None
    donor_minimum: int
    receiver_cover_before_days: float | None
    receiver_cover_after_days: float | None
    # Chance the receiver runs out before the next review's transfer could arrive.
    receiver_risk_before: float
    receiver_risk_after: float
    # Expected sales saved at the receiver minus those the donor may lose, in units.
    expected_units_saved: float
    value: float  # expected_units_saved x cost of a lost sale
    cost: float  # units x cost per unit + this line's share of the shipment cost
    policy: str = "optimiser"

    def as_dict(self) -> dict:
        return asdict(self)

    def text(self, *, source: str = "the source", destination: str = "the destination") -> str:
        limits = {
            "donor_minimum": f"{source} keeps its minimum of {self.donor_minimum}",
            "lane_minimum": "the lane's minimum quantity",
            "lane_capacity": "the lane's capacity",
            "forecast": "the forecast: more would not pay for itself",
        }
        return (
            f"{destination} has {_days(self.receiver_cover_before_days)} of cover and a "
            f"{self.receiver_risk_before:.0%} risk of running out between this transfer's "
            f"arrival and the next one's; with it {_days(self.receiver_cover_after_days)} and "
            f"{self.receiver_risk_after:.0%}. {source} goes from "
            f"{_days(self.donor_cover_before_days)} to {_days(self.donor_cover_after_days)}. "
            f"Expected {self.expected_units_saved:.1f} sales saved, worth {self.value:.2f}, "
            f"against {self.cost:.2f} of transfer cost. Quantity limited by "
            f"{limits[self.limited_by]}."
        )


def _days(value: float | None) -> str:
    return "unlimited days (no demand)" if value is None else f"{value:.1f} days"


@dataclass(frozen=True, slots=True)
class Move:
    """One suggested line: this many units of a SKU along a lane."""

    sku: Hashable
    source: Hashable
    destination: Hashable
    quantity: int
    lead_time_days: int
    reason: Reason


@dataclass(slots=True)
class Plan:
    moves: list[Move] = field(default_factory=list)
    # What the run did: SKUs seen and solved, lanes closed by the gate, solver calls, seconds.
    stats: dict = field(default_factory=dict)
