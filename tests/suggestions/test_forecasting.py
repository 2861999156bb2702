import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from suggestions.forecasting import (
    DemandPattern,
    classify,
    days_of_cover,
    forecast_for_levels,
    forecast_many,
    forecast_series,
    reorder_point,
    safety_stock,
    z_score,
)
from suggestions.models import DemandClass

SMOOTH = np.array([5, 6, 4, 5, 7, 5, 6, 4, 5, 6, 5, 5, 6, 4] * 4, dtype=float)
# A sale every third day, always about the same size.
INTERMITTENT = np.array([0, 0, 3, 0, 0, 4, 0, 0, 3, 0, 0, 3] * 5, dtype=float)
# Every day, sizes varying widely.
ERRATIC = np.array([1, 9, 1, 12, 2, 1, 10, 1] * 6, dtype=float)
# Rare and of very different sizes.
LUMPY = np.array([0, 0, 0, 1, 0, 0, 0, 0, 15, 0, 0, 2, 0, 0, 0, 20] * 4, dtype=float)


def test_pattern_values_are_the_models_demand_classes():
    assert {item.value for item in DemandPattern} == set(DemandClass.values)


@pytest.mark.parametrize(
    ("series", "expected"),
    [
        (SMOOTH, DemandPattern.SMOOTH),
        (INTERMITTENT, DemandPattern.INTERMITTENT),
        (ERRATIC, DemandPattern.ERRATIC),
        (LUMPY, DemandPattern.LUMPY),
        (np.zeros(30), DemandPattern.NO_DEMAND),
    ],
)
def test_classification_of_known_series(series, expected):
    assert classify(series).demand_class == expected


def test_adi_and_cv2_are_the_sbc_definitions():
    profile = classify(np.array([0, 2, 0, 0, 4, 0], dtype=float))

    # Six days, two with demand; sizes 2 and 4: mean 3, variance 1.
    assert profile.adi == 3.0
    assert profile.cv2 == pytest.approx(1 / 9)


@pytest.mark.parametrize(
    ("series", "method"),
    [
        (SMOOTH, "ets_ann"),
        (ERRATIC, "ets_ann"),
        (INTERMITTENT, "croston_sba"),
        (LUMPY, "tsb"),
        (np.zeros(30), "none"),
        (np.array([1.0, 2.0, 0.0]), "mean"),
    ],
)
def test_method_is_picked_per_class(series, method):
    assert forecast_series(series).method == method


def test_one_old_sale_is_not_forecast_at_its_size():
    series = np.r_[5.0, np.zeros(59)]

    result = forecast_series(series)

    assert result.demand_class == DemandPattern.INTERMITTENT
    assert result.method == "tsb"
    assert result.daily_demand < 0.01


def test_intermittent_demand_that_stopped_goes_to_tsb():
    # A sale every third day for 60 days, then 30 days without (ten intervals).
    series = np.r_[INTERMITTENT, np.zeros(30)]

    result = forecast_series(series)

    assert result.method == "tsb"
    assert result.daily_demand < forecast_series(INTERMITTENT).daily_demand / 10


def test_smooth_forecast_is_near_its_level_with_a_small_error():
    result = forecast_series(SMOOTH)

    assert 4.5 < result.daily_demand < 6.0
    assert 0.5 < result.daily_error < 1.5


def test_intermittent_forecast_is_its_rate_not_its_size():
    result = forecast_series(INTERMITTENT)

    # 13 units every 12 days is about 1.08 a day; SBA's correction shades it down.
    assert 0.8 < result.daily_demand < 1.2
    assert result.daily_error > 0


def test_no_demand_forecasts_zero_with_zero_error():
    result = forecast_series(np.zeros(60))

    assert result.daily_demand == 0.0
    assert result.daily_error == 0.0
    assert safety_stock(daily_error=0.0, lead_time_days=4, service_level=0.95) == 0.0
    assert days_of_cover(10, 0.0) is None


def test_forecast_many_keeps_the_order_of_its_series():
    results = forecast_many([SMOOTH, np.zeros(10), INTERMITTENT])

    assert [item.method for item in results] == ["ets_ann", "none", "croston_sba"]


def test_safety_stock_formula_on_a_known_case():
    # z(0.95) = 1.6449; error 2 a day over 4 days: 1.6449 x 2 x 2.
    assert z_score(0.95) == pytest.approx(1.644854, abs=1e-6)
    assert safety_stock(daily_error=2.0, lead_time_days=4, service_level=0.95) == pytest.approx(
        6.579415, abs=1e-5
    )
    assert reorder_point(daily_demand=3.0, lead_time_days=4, safety=6.58) == pytest.approx(18.58)
    assert days_of_cover(12, 3.0) == 4.0
    assert days_of_cover(-5, 3.0) == 0.0


def test_forecast_for_levels_rounds_safety_and_reorder_point_up():
    [(result, safety, point)] = forecast_for_levels([SMOOTH], [4], 0.95)

    expected_safety = math.ceil(1.644854 * result.daily_error * 2)
    assert safety == expected_safety
    assert point == math.ceil(result.daily_demand * 4 + expected_safety)


def test_reading_forecasts_does_not_import_statsforecast():
    # statsforecast takes seconds to import (numba): a web process reading forecasts,
    # outlooks or the review input must never pay for it.
    code = (
        "import django, sys; django.setup(); "
        "import suggestions.selectors, suggestions.positions, suggestions.demand, "
        "suggestions.forecasting, suggestions.services.forecasts; "
        "print('statsforecast' in sys.modules)"
    )

    answer = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )

    assert answer.stdout.strip() == "False"
