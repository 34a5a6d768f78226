"""The seeds' value formulas, checked on the seeds' worked examples (DESIGN.md, "Value formulas")."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clm.analytics.clv import formulas
from clm.analytics.clv.errors import CLVInputError

rates = st.floats(min_value=0, max_value=1, allow_nan=False)
money = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


def test_retention_clv_paid_in_advance_reproduces_the_seed_example():
    # (2000 − 500)·(1 + 5%)/(1 + 5% − 80%) = 6300
    assert formulas.retention_clv_paid_in_advance(2000, 500, 0.80, 0.05) == pytest.approx(6300)


def test_retention_clv_paid_in_arrears_drops_the_first_periods_margin():
    # (M − R)·(1 + d)/(1 + d − r) − (M − R) = (M − R)·r/(1 + d − r): 6300 − 1500 = 4800
    assert formulas.retention_clv_paid_in_arrears(2000, 500, 0.80, 0.05) == pytest.approx(4800)


@settings(deadline=None)
@given(margin=money, cost=money, r=rates, d=st.floats(min_value=0.001, max_value=1))
def test_arrears_is_advance_less_one_periods_net_margin(margin, cost, r, d):
    advance = formulas.retention_clv_paid_in_advance(margin, cost, r, d)
    arrears = formulas.retention_clv_paid_in_arrears(margin, cost, r, d)
    assert arrears == pytest.approx(advance - (margin - cost), rel=1e-9, abs=1e-6)


def test_retention_clv_is_the_discounted_sum_of_retained_margins():
    periods = np.arange(2000)
    series = ((2000 - 500) * 0.8**periods / 1.05**periods).sum()
    assert formulas.retention_clv_paid_in_advance(2000, 500, 0.8, 0.05) == pytest.approx(series)


def test_simple_clv_reproduces_the_seed_example():
    # (45 − 20) × 36 = 900
    assert formulas.simple_clv(45, 20, 36) == 900


def test_historical_clv_is_revenue_less_cost():
    assert formulas.historical_clv(12_000, 7_500) == 4_500


def test_annual_clv_is_annual_value_times_lifetime_less_cac():
    # annual value 100,000 × 40% = 40,000; lifetime 1/0.2 = 5 years; less CAC 30,000
    assert formulas.annual_value(100_000, 0.4) == pytest.approx(40_000)
    assert formulas.average_lifetime(0.2) == pytest.approx(5)
    assert formulas.annual_clv(100_000, 0.4, 0.2, 30_000) == pytest.approx(170_000)


def test_cac_is_spend_over_new_customers_per_channel():
    cac = formulas.customer_acquisition_cost(np.array([50_000, 12_000]), np.array([25, 40]))
    np.testing.assert_allclose(cac, [2_000, 300])


def test_ltv_to_cac_ratio_and_payback():
    assert formulas.ltv_to_cac_ratio(9_000, 3_000) == pytest.approx(3)
    assert formulas.cac_payback_months(3_000, 250) == pytest.approx(12)


@pytest.mark.parametrize(
    ("ltv", "cac", "health"),
    [
        (10_000, 2_000, "healthy"),  # 20%
        (10_000, 2_999, "healthy"),
        (10_000, 3_000, "warning"),  # 30% is no longer below 30%
        (10_000, 5_000, "warning"),  # 50% is not yet above 50%
        (10_000, 5_001, "alarm"),
        (10_000, 0, "healthy"),
        (0, 100, "alarm"),  # never pays back
        (-500, 100, "alarm"),
    ],
)
def test_cac_health_bands_follow_the_seed(ltv, cac, health):
    result = formulas.cac_health(ltv, cac)
    assert result == health
    assert isinstance(result, formulas.CacHealth)


def test_cac_health_is_vectorised():
    health = formulas.cac_health(np.array([10_000, 10_000, 10_000]), np.array([1_000, 4_000, 6_000]))
    assert health.tolist() == ["healthy", "warning", "alarm"]


def test_formulas_broadcast_arrays_and_return_floats_for_scalars():
    values = formulas.retention_clv_paid_in_advance(np.array([2000, 3000]), 500, np.array([0.8, 0.9]), 0.05)
    np.testing.assert_allclose(values, [6300, 2500 * 1.05 / 0.15])
    assert type(formulas.simple_clv(45, 20, 36)) is float


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda: formulas.retention_clv_paid_in_advance(2000, 500, 1.0, 0.0), "retention_rate"),
        (lambda: formulas.retention_clv_paid_in_advance(2000, 500, 1.2, 0.05), "retention_rate"),
        (lambda: formulas.retention_clv_paid_in_advance(2000, 500, -0.1, 0.05), "retention_rate"),
        (lambda: formulas.retention_clv_paid_in_arrears(2000, 500, 0.8, -0.05), "discount_rate"),
        (lambda: formulas.retention_clv_paid_in_advance(float("nan"), 500, 0.8, 0.05), "margin"),
        (lambda: formulas.annual_clv(100_000, 0.4, 0.0, 30_000), "churn_rate"),
        (lambda: formulas.average_lifetime(-0.1), "churn_rate"),
        (lambda: formulas.annual_clv(100_000, 1.4, 0.2, 30_000), "gross_margin_rate"),
        (lambda: formulas.customer_acquisition_cost(50_000, 0), "new_customers"),
        (lambda: formulas.customer_acquisition_cost(-1, 10), "spend"),
        (lambda: formulas.ltv_to_cac_ratio(9_000, 0), "cac"),
        (lambda: formulas.cac_payback_months(3_000, 0), "monthly_gross_margin"),
        (lambda: formulas.simple_clv(45, 20, -1), "expected_lifetime_months"),
        (lambda: formulas.historical_clv(float("inf"), 0), "total_revenue"),
    ],
)
def test_impossible_inputs_raise_naming_the_argument(call, argument):
    with pytest.raises(CLVInputError) as raised:
        call()
    assert raised.value.argument.startswith(argument)
    assert argument in str(raised.value)


def test_the_error_points_at_the_offending_element_of_an_array():
    with pytest.raises(CLVInputError, match=r"churn_rate\[2\] = 0\.0"):
        formulas.average_lifetime(np.array([0.1, 0.5, 0.0]))


def test_the_error_is_a_value_error():
    with pytest.raises(ValueError):
        formulas.customer_acquisition_cost(1000, 0)


@settings(deadline=None)
@given(margin=money, cost=money, r=rates, d=st.floats(min_value=0, max_value=10, allow_nan=False))
def test_retention_clv_is_finite_or_refused(margin, cost, r, d):
    try:
        value = formulas.retention_clv_paid_in_advance(margin, cost, r, d)
    except CLVInputError:
        assert r >= 1 + d
    else:
        assert np.isfinite(value)


def test_the_value_core_imports_without_django():
    code = "import sys, clm.analytics.clv; sys.exit(any(m.split('.')[0] == 'django' for m in sys.modules))"
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, env={**os.environ, "PYTHONPATH": str(root)})
    assert done.returncode == 0
