"""Demand over a horizon and the value of a unit, as numpy arrays.

Demand over h days is Poisson with mean h x daily demand, or negative binomial with the same
mean when the forecast's error says it varies more than Poisson (variance h x error²). The
probabilities are computed directly from log-gamma terms: one vectorised expression per
curve, not a distribution object per position (which cost about 100 µs each).
"""

import numpy as np
from scipy.special import betainc, gammainc, gammaln

from suggestions.plan import Position

# Demand beyond this upper tail is treated as impossible when curves are cut.
TAIL = 1e-6


def pmf(position: Position, days: int, size: int) -> np.ndarray:
    """P(D = j) for j = 0..size-1, D the demand over `days`."""
    mean = max(position.daily_demand, 0.0) * days
    counts = np.arange(max(size, 1), dtype=float)
    if mean <= 0:
        return (counts == 0).astype(float)[:size]
    variance = position.daily_error**2 * days
    if variance <= mean * 1.0001:
        log = counts * np.log(mean) - mean - gammaln(counts + 1)
    else:
        shape = mean * mean / (variance - mean)
        success = mean / variance
        log = (
            gammaln(counts + shape)
            - gammaln(shape)
            - gammaln(counts + 1)
            + shape * np.log(success)
            + counts * np.log1p(-success)
        )
    return np.exp(log)[:size]


def at_least(position: Position, days: int, size: int) -> np.ndarray:
    """P(D ≥ j) for j = 0..size-1."""
    if size <= 0:
        return np.zeros(0)
    below = np.concatenate(([0.0], np.cumsum(pmf(position, days, size - 1))))
    return np.clip(1.0 - below, 0.0, 1.0)


def upper(position: Position, days: int) -> int:
    """The demand over `days` that is exceeded with probability below TAIL."""
    mean = max(position.daily_demand, 0.0) * days
    if mean <= 0:
        return 0
    spread = max(position.daily_error**2 * days, mean) ** 0.5
    size = int(mean + 12 * spread + 12)
    tail = at_least(position, days, size)
    return int(np.searchsorted(-tail, -TAIL))


def window_values(
    position: Position, *, stock: int, lead: int, review: int, units: int
) -> np.ndarray:
    """The k-th extra unit's chance of a sale, for k = 0..units: P(D_R - max(stock - D_L, 0) ≥ k).

    Units landing after the lead time L serve the demand of the review period R that the
    stock left by then does not cover.
    """
    stock = max(stock, 0)
    lead_pmf = pmf(position, lead, stock)
    left = np.empty(stock + 1)
    left[1:] = lead_pmf[::-1]  # left = s >= 1 exactly when D_L = stock - s
    left[0] = max(0.0, 1.0 - lead_pmf.sum())
    reach = at_least(position, review, stock + units + 1)
    return np.correlate(reach, left, mode="valid")


def giving_costs(position: Position, *, stock: int, horizon: int, units: int) -> np.ndarray:
    """The k-th unit given away's chance of costing a sale, k = 1..units: P(D_H ≥ stock - k + 1)."""
    reach = at_least(position, horizon, stock + 1)
    return reach[stock - np.arange(1, units + 1) + 1]


def stockout_risk(position: Position, *, stock: int, lead: int, review: int) -> float:
    """Chance of running out in the review period after `lead` days, holding `stock` now."""
    return float(window_values(position, stock=stock, lead=lead, review=review, units=0)[0])


def first_unit_chances(means: np.ndarray, variances: np.ndarray, stocks: np.ndarray) -> np.ndarray:
    """P(D ≥ stock + 1) for many positions at once (D with these means and variances over
    their horizons): an upper bound of what one more unit could be worth there."""
    needed = stocks.astype(float) + 1.0
    chances = np.zeros(means.shape)
    has_demand = means > 0
    poisson = has_demand & (variances <= means * 1.0001)
    chances[poisson] = gammainc(needed[poisson], means[poisson])
    spread = has_demand & ~poisson
    shape = means[spread] ** 2 / (variances[spread] - means[spread])
    chances[spread] = 1.0 - betainc(shape, needed[spread], means[spread] / variances[spread])
    return chances
