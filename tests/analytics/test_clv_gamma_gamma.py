"""Gamma-Gamma spend model against Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary
Value", and Fader, Hardie & Lee (2005), "RFM and CLV: using iso-value curves", on CDNOW."""

from functools import cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import check_grad

from clm.analytics.clv.bgnbd import BetaGeoModel
from clm.analytics.clv.data import read_cdnow, rfm_summary
from clm.analytics.clv.errors import CLVInputError, NotEnoughDataError
from clm.analytics.clv.gamma_gamma import GammaGammaModel, _GroupedLikelihood

CDNOW_SAMPLE = Path(__file__).resolve().parents[1] / "data" / "cdnow" / "CDNOW_sample.txt"
PUBLISHED = GammaGammaModel(p=6.25, q=3.74, v=15.44)
PUBLISHED_BGNBD = BetaGeoModel(r=0.243, alpha=4.414, a=0.793, b=2.426)

# Five CDNOW customers (ids 4, 18, 21, 111, 1760): x, t_x, T in weeks, mean repeat spend.
X = np.array([2, 0, 1, 7, 29])
T_X = np.array([30.428571428571427, 0, 1.7142857142857142, 29.428571428571427, 37.714285714285715])
T = np.array([38.857142857142854, 38.42857142857143, 38.857142857142854, 38.857142857142854, 38.0])
M_X = np.array([22.345, 0, 11.77, 73.74142857142856, 26.261379310344827])


@cache
def repeat_customers():
    summary = rfm_summary(read_cdnow(CDNOW_SAMPLE), "1997-09-30", period="week")
    return summary[summary["frequency"] > 0]


def test_fit_reproduces_the_published_estimates_on_cdnow():
    # The note fits the 946 customers with repeat purchases in weeks 1–39, m_x the mean value
    # of their repeat transactions: p = 6.25, q = 3.74, γ = 15.44.
    repeaters = repeat_customers()
    assert len(repeaters) == 946
    model = GammaGammaModel.fit(repeaters["frequency"], repeaters["monetary_value"])
    assert (round(model.p, 2), round(model.q, 2), round(model.v, 2)) == (6.25, 3.74, 15.44)
    assert model.fit_info.converged and model.fit_info.n_customers == 946


def test_the_gradient_is_the_derivative_of_the_likelihood():
    repeaters = repeat_customers()
    likelihood = _GroupedLikelihood(
        repeaters["frequency"].to_numpy(),
        repeaters["monetary_value"].to_numpy() / 35,
        np.ones(len(repeaters)),
    )
    for point in ([0.0, 1.0, 0.0], [1.8, 1.3, -0.8]):
        assert check_grad(lambda p: likelihood(p)[0], lambda p: likelihood(p)[1], np.array(point)) < 1e-6


def test_conditional_spend_matches_lifetimes_at_the_published_estimates():
    # lifetimes 0.11.3 GammaGammaFitter.conditional_expected_average_profit with these params.
    np.testing.assert_allclose(
        PUBLISHED.expected_average_spend(X, M_X),
        [24.659612860892, 35.21897810219, 18.916852057842, 71.471015272102, 26.394776890048],
        rtol=1e-10,
    )
    assert PUBLISHED.expected_average_spend_new_customer() == pytest.approx(6.25 * 15.44 / 2.74)


def test_clv_matches_lifetimes_customer_lifetime_value():
    # lifetimes 0.11.3: gg.customer_lifetime_value(bgf, ..., time=12, discount_rate=0.01, freq="W"),
    # whose month is 4.345 weeks.
    clv = PUBLISHED.expected_customer_lifetime_value(
        PUBLISHED_BGNBD, X, T_X, T, M_X, months=12, monthly_discount_rate=0.01, periods_per_month=4.345
    )
    np.testing.assert_allclose(
        clv, [36.285701554662, 8.443184223116, 4.64103086694, 283.570302890294, 625.423697621819], rtol=1e-9
    )


def test_clv_grows_with_the_horizon_and_shrinks_with_the_discount_rate():
    def value(months, rate):
        return PUBLISHED.expected_customer_lifetime_value(
            PUBLISHED_BGNBD, X, T_X, T, M_X, months=months, monthly_discount_rate=rate
        )

    assert np.all(value(24, 0.01) > value(12, 0.01))
    assert np.all(value(12, 0.05) < value(12, 0.01))
    undiscounted = value(12, 0.0)
    expected_spend = PUBLISHED.expected_average_spend(X, M_X)
    year = 12 * 365.2425 / 12 / 7
    np.testing.assert_allclose(
        undiscounted, expected_spend * PUBLISHED_BGNBD.expected_purchases(year, X, T_X, T)
    )


@settings(deadline=None)
@given(
    x=st.integers(min_value=1, max_value=500),
    m=st.floats(min_value=0.01, max_value=1e5),
)
def test_conditional_spend_lies_between_the_population_mean_and_the_customers_own(x, m):
    spend = PUBLISHED.expected_average_spend(x, m)
    population = PUBLISHED.expected_average_spend_new_customer()
    assert min(m, population) * (1 - 1e-12) <= spend <= max(m, population) * (1 + 1e-12)


@pytest.mark.parametrize(
    ("frequency", "monetary", "argument"),
    [
        ([0, 2], [10, 20], "frequency"),
        ([1, 2], [-5, 20], "monetary_value"),
        ([1, 2], [np.nan, 20], "monetary_value"),
    ],
)
def test_impossible_spend_data_is_refused(frequency, monetary, argument):
    with pytest.raises(CLVInputError) as raised:
        GammaGammaModel.fit(frequency, monetary)
    assert raised.value.argument.startswith(argument)


def test_a_mean_spend_needs_q_above_one():
    with pytest.raises(CLVInputError, match="q"):
        GammaGammaModel(p=2, q=0.8, v=10).expected_average_spend(3, 20)


def test_clv_refuses_a_negative_discount_rate_and_empty_horizons():
    with pytest.raises(CLVInputError, match="monthly_discount_rate"):
        PUBLISHED.expected_customer_lifetime_value(
            PUBLISHED_BGNBD, X, T_X, T, M_X, monthly_discount_rate=-0.01
        )
    with pytest.raises(CLVInputError, match="months"):
        PUBLISHED.expected_customer_lifetime_value(PUBLISHED_BGNBD, X, T_X, T, M_X, months=0)


def test_too_few_repeat_buyers_is_not_enough_data():
    with pytest.raises(NotEnoughDataError, match="Gamma-Gamma: it needs at least 10 customers") as raised:
        GammaGammaModel.fit([1, 2, 1, 3, 1], [120.0, 80.0, 95.0, 110.0, 60.0])
    assert raised.value.value == "5 customers, 5 repeat buyers"


def test_spends_so_spread_that_the_mean_is_infinite_are_refused_in_words():
    # Mean spends over six orders of magnitude: the likelihood's maximum has q < 1, where the
    # population mean p·v/(q − 1) does not exist (Fader & Hardie 2013, eq. 4 needs q > 1).
    rng = np.random.default_rng(1)
    spends, orders = 10 ** rng.uniform(0, 6, 50), rng.integers(1, 4, 50)
    with pytest.raises(NotEnoughDataError, match=r"q = 0\.\d+ <= 1: the spends vary so widely"):
        GammaGammaModel.fit(orders, spends)
