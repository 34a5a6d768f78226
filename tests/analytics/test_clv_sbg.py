"""Shifted-beta-geometric retention against Fader & Hardie (2007), "How to project customer
retention", Journal of Interactive Marketing 21(1), and its valuation (Fader & Hardie 2010)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import check_grad

from clm.analytics.clv import formulas
from clm.analytics.clv.errors import CLVInputError
from clm.analytics.clv.sbg import ShiftedBetaGeometricModel, _CohortLikelihood

# The paper's worked example: customers of each segment still active after years 0 … 7 (the
# seven years the model is fitted on).
REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241]
HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491]

positive = st.floats(min_value=0.05, max_value=50)


@pytest.mark.parametrize(
    ("alive", "alpha", "beta"),
    [(REGULAR, 0.704, 1.182), (HIGH_END, 0.668, 3.806)],
    ids=["regular", "high-end"],
)
def test_fit_reproduces_the_published_estimates(alive, alpha, beta):
    model = ShiftedBetaGeometricModel.fit(alive)
    assert (round(model.alpha, 3), round(model.beta, 3)) == (alpha, beta)
    assert model.fit_info.converged


@pytest.mark.parametrize("alive", [REGULAR, HIGH_END], ids=["regular", "high-end"])
def test_fitted_survival_follows_the_observed_years(alive):
    model = ShiftedBetaGeometricModel.fit(alive)
    projected = model.expected_survivors(1000, 7)
    np.testing.assert_allclose(projected, alive, rtol=0.03)


def test_fit_is_the_same_on_shares_as_on_counts():
    on_counts = ShiftedBetaGeometricModel.fit(HIGH_END)
    on_shares = ShiftedBetaGeometricModel.fit(np.array(HIGH_END) / 1000)
    assert on_shares.alpha == pytest.approx(on_counts.alpha, rel=1e-6)
    assert on_shares.beta == pytest.approx(on_counts.beta, rel=1e-6)


def test_the_gradient_is_the_derivative_of_the_likelihood():
    likelihood = _CohortLikelihood(np.array(REGULAR, dtype=float))
    for point in ([0.0, 0.0], [-0.35, 0.17], [1.5, -1.0]):
        assert check_grad(lambda p: likelihood(p)[0], lambda p: likelihood(p)[1], np.array(point)) < 1e-6


def test_retention_rises_as_the_likely_leavers_leave():
    model = ShiftedBetaGeometricModel(alpha=0.704, beta=1.182)
    rates = model.retention_rate(np.arange(1, 13))
    assert np.all(np.diff(rates) > 0)
    # S(t) is the product of the retention rates up to t (eq. 8 → eq. 7).
    np.testing.assert_allclose(model.survival(np.arange(1, 13)), np.cumprod(rates))


def test_churn_probabilities_and_survivors_account_for_everyone():
    model = ShiftedBetaGeometricModel(alpha=0.668, beta=3.806)
    assert model.churn_probability(np.arange(1, 9)).sum() + model.survival(8) == pytest.approx(1)


def test_del_is_the_discounted_sum_of_survival():
    model = ShiftedBetaGeometricModel(alpha=0.704, beta=1.182)
    t = np.arange(3_000)
    assert model.discounted_expected_lifetime(0.1) == pytest.approx(
        (model.survival(t) * (1 / 1.1) ** t).sum(), rel=1e-9
    )


@pytest.mark.parametrize("renewals", [0, 1, 4])
def test_derl_counts_the_payments_still_to_come_from_the_next_renewal_on(renewals):
    model = ShiftedBetaGeometricModel(alpha=0.668, beta=3.806)
    n = renewals + 1  # the customer is in period n
    k = np.arange(3_000)
    series = (model.survival(n + k) / model.survival(n - 1) * (1 / 1.1) ** k).sum()
    assert model.discounted_expected_residual_lifetime(0.1, renewals) == pytest.approx(series, rel=1e-9)
    if renewals == 0:  # a new customer's value is their first payment plus the rest, a period later
        derl = model.discounted_expected_residual_lifetime(0.1, 0)
        assert model.discounted_expected_lifetime(0.1) == pytest.approx(1 + derl / 1.1)


def test_without_heterogeneity_the_value_is_the_seeds_retention_formula():
    # θ ~ Beta(α, β) concentrated at 0.2: everyone retains at 0.8, and margin × DEL becomes
    # (M − R)(1 + d)/(1 + d − r) = 6300 for the seeds' example.
    everyone_alike = ShiftedBetaGeometricModel(alpha=0.2e7, beta=0.8e7)
    assert everyone_alike.expected_clv(2000 - 500, 0.05) == pytest.approx(
        formulas.retention_clv_paid_in_advance(2000, 500, 0.8, 0.05), rel=1e-5
    )


def test_ignoring_heterogeneity_undervalues_the_customer():
    # Fader & Hardie (2010): the one-retention-rate formula, fed the first-year retention the
    # model implies, values a new customer well below what the sBG does.
    model = ShiftedBetaGeometricModel.fit(REGULAR)
    first_year_retention = float(model.retention_rate(1))
    naive = formulas.retention_clv_paid_in_advance(100, 0, first_year_retention, 0.1)
    assert model.expected_clv(100, 0.1) > 1.2 * naive


def test_residual_value_scales_with_customers_and_margin():
    model = ShiftedBetaGeometricModel(alpha=0.668, beta=3.806)
    one = model.expected_residual_value(50, 0.1, renewals=3)
    assert model.expected_residual_value(50, 0.1, renewals=3, customers=491) == pytest.approx(491 * one)
    assert one == pytest.approx(50 * model.discounted_expected_residual_lifetime(0.1, 3))


def test_undiscounted_lifetime_is_finite_only_for_alpha_above_one():
    assert ShiftedBetaGeometricModel(alpha=3.0, beta=2.0).discounted_expected_lifetime(0.0) == pytest.approx(
        2.0
    )
    with pytest.raises(CLVInputError, match="discount_rate"):
        ShiftedBetaGeometricModel(alpha=0.7, beta=1.2).discounted_expected_lifetime(0.0)


@settings(deadline=None)
@given(alpha=positive, beta=positive)
def test_survival_is_a_non_increasing_share(alpha, beta):
    survival = ShiftedBetaGeometricModel(alpha, beta).survival(np.arange(0, 60))
    assert survival[0] == pytest.approx(1)
    assert np.all((survival >= 0) & (survival <= 1 + 1e-12))
    assert np.all(np.diff(survival) <= 1e-15)


@settings(deadline=None)
@given(alpha=positive, beta=positive, d=st.floats(min_value=0.001, max_value=1))
def test_del_is_at_least_one_payment_and_finite(alpha, beta, d):
    value = ShiftedBetaGeometricModel(alpha, beta).discounted_expected_lifetime(d)
    assert np.isfinite(value) and 1 <= value <= (1 + d) / d + 1e-9


@pytest.mark.parametrize(
    ("alive", "argument"),
    [
        ([1000, 631, 700, 382], "alive[2]"),  # survivors cannot come back
        ([1000, -5, -6], "alive"),
        ([1000, 631], "alive"),  # one period cannot identify two parameters
        ([1000], "alive"),
        ([1000, np.nan, 400], "alive"),
        ([0, 0, 0], "alive"),
        ([1000, 1000, 1000], "alive"),  # nobody ever left
    ],
)
def test_impossible_survivor_counts_are_refused(alive, argument):
    with pytest.raises(CLVInputError) as raised:
        ShiftedBetaGeometricModel.fit(alive)
    assert raised.value.argument.startswith(argument)


def test_projections_refuse_negative_periods_and_discount_rates():
    model = ShiftedBetaGeometricModel(alpha=0.704, beta=1.182)
    with pytest.raises(CLVInputError, match="t"):
        model.survival(-1)
    with pytest.raises(CLVInputError, match="discount_rate"):
        model.discounted_expected_residual_lifetime(-0.1, 2)


# ---------------------------------------------------------------- several cohorts (fit_lifetimes)


def _lifetimes_of(alive):
    """Per customer of one cohort: periods observed and whether they left, from survivor counts."""
    alive = np.asarray(alive)
    lost = alive[:-1] - alive[1:]
    periods = np.concatenate([np.repeat(np.arange(1, len(alive)), lost), np.full(alive[-1], len(alive) - 1)])
    churned = np.concatenate([np.ones(lost.sum(), bool), np.zeros(alive[-1], bool)])
    return periods, churned


@pytest.mark.parametrize(
    ("alive", "alpha", "beta"),
    [(REGULAR, 0.704, 1.182), (HIGH_END, 0.668, 3.806)],
    ids=["regular", "high-end"],
)
def test_fit_lifetimes_of_one_cohort_reproduces_the_published_estimates(alive, alpha, beta):
    periods, churned = _lifetimes_of(alive)
    model = ShiftedBetaGeometricModel.fit_lifetimes(periods, churned)
    assert (round(model.alpha, 3), round(model.beta, 3)) == (alpha, beta)
    assert model.fit_info.log_likelihood == pytest.approx(
        ShiftedBetaGeometricModel.fit(alive).fit_info.log_likelihood
    )


def test_fit_lifetimes_pools_cohorts_censored_at_different_ages():
    # Two cohorts drawn from one sBG(0.704, 1.182), the younger observed for 3 periods only: the
    # pooled fit recovers the parameters, which neither a 3-period cohort alone pins down as well.
    truth = ShiftedBetaGeometricModel(0.704, 1.182)
    rng = np.random.default_rng(7)
    theta = rng.beta(truth.alpha, truth.beta, size=40_000)
    lifetime = rng.geometric(theta)
    observed = np.where(np.arange(len(theta)) % 2 == 0, 7, 3)
    churned = lifetime <= observed
    periods = np.where(churned, lifetime, observed)
    model = ShiftedBetaGeometricModel.fit_lifetimes(periods, churned)
    assert model.alpha == pytest.approx(truth.alpha, rel=0.08)
    assert model.beta == pytest.approx(truth.beta, rel=0.08)


def test_fit_lifetimes_gradient_is_the_likelihoods():
    from clm.analytics.clv.sbg import _CensoredLikelihood

    periods, churned = _lifetimes_of(REGULAR)
    lost = np.bincount(periods[churned], minlength=8)[1:].astype(float)
    active = np.bincount(periods[~churned], minlength=8).astype(float)
    likelihood = _CensoredLikelihood(lost, active)
    for point in ([0.1, -0.3], [-1.0, 1.5]):
        assert check_grad(lambda p: likelihood(p)[0], lambda p: likelihood(p)[1], np.array(point)) < 1e-6


@pytest.mark.parametrize(
    ("periods", "churned", "argument"),
    [
        ([1, 2, 3], [False, False, False], "churned"),  # nobody left
        ([0, 2], [True, False], "periods"),  # left before a period ended
        ([1.5, 2], [True, False], "periods"),
        ([1, 2], [True], "churned"),
    ],
)
def test_fit_lifetimes_refuses_data_without_a_model(periods, churned, argument):
    with pytest.raises(CLVInputError) as error:
        ShiftedBetaGeometricModel.fit_lifetimes(periods, churned)
    assert error.value.argument.startswith(argument)
