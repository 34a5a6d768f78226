"""The shifted-beta-geometric (sBG) model of retention in a contractual setting.

Fader, P. S. and Hardie, B. G. S. (2007), "How to project customer retention", Journal of
Interactive Marketing 21(1), 76–90 (equation numbers below are theirs), and for valuation
Fader & Hardie (2010), "Customer-base valuation in a contractual setting: the perils of ignoring
heterogeneity", Marketing Science 29(1), 85–93. Each customer renews at the end of every period
with their own probability 1 − θ, θ ~ Beta(α, β), so the cohort's retention rate rises over
time as the customers likely to leave are the first to go.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import betaln, digamma

from .errors import CLVInputError, as_float_array, positive_parameter, require
from .fitting import FitInfo, maximise
from .hypergeometric import hyp2f1


@dataclass(frozen=True)
class ShiftedBetaGeometricModel:
    """sBG: churn probability θ ~ Beta(alpha, beta) across customers, constant per customer."""

    alpha: float
    beta: float
    fit_info: FitInfo | None = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        for name in ("alpha", "beta"):
            object.__setattr__(self, name, positive_parameter(name, getattr(self, name)))

    @classmethod
    def fit(cls, alive) -> ShiftedBetaGeometricModel:
        """Maximum-likelihood (α, β) from a cohort's survivors: alive[t] customers still active
        after t periods, alive[0] the cohort at the start.

        LL = Σ_t (alive[t−1] − alive[t])·log P(T = t) + alive[n]·log S(n). Counts may be shares.
        When retention does not rise over time the data show no heterogeneity: the maximum is
        then at α, β → ∞ with β/(α + β) the one retention rate, and the estimates come out huge
        (the model is then the seeds' one-rate formula).
        """
        counts = _survivor_counts(alive)
        likelihood = _CohortLikelihood(counts)
        log_params, iterations, converged, message = maximise(
            likelihood, np.zeros(2), ("alpha", "beta"), unbounded_above=("beta",)
        )
        alpha, beta = np.exp(log_params)
        info = FitInfo(
            log_likelihood=float(-likelihood(log_params)[0] * counts[0]),
            n_customers=int(round(counts[0])),
            n_patterns=len(counts),
            iterations=iterations,
            converged=converged,
            message=message,
        )
        return cls(alpha, beta, fit_info=info)

    @classmethod
    def fit_lifetimes(cls, periods, churned, *, weights=None) -> ShiftedBetaGeometricModel:
        """Maximum-likelihood (α, β) from customers of several cohorts, each observed for its own
        number of periods: ``periods[i]`` completed periods, and ``churned[i]`` whether customer i
        left at the end of its last one (T = periods) or is still active (censored, T > periods).

        LL = Σ_churned log P(T = t_i) + Σ_active log S(t_i): the multi-cohort sBG of Fader & Hardie
        (2007), section 5 ("several cohorts"). A single cohort's survivor counts give the same
        likelihood as ``fit``; customers with 0 periods and still active carry no information.
        """
        t = as_float_array("periods", periods)
        left = np.asarray(churned, dtype=bool)
        if t.ndim != 1 or left.shape != t.shape:
            raise CLVInputError("churned", f"shape {left.shape}", f"needs one flag per customer ({t.shape})")
        require("periods", t, (t >= 0) & (t == np.round(t)), "a number of periods is a whole number >= 0")
        require("periods", t, (t >= 1) | ~left, "a customer who left did so after at least one period")
        w = np.ones(len(t)) if weights is None else as_float_array("weights", weights)
        require("weights", w, w >= 0, "a weight counts customers and cannot be negative")
        n = int(t.max()) + 1 if len(t) else 1
        lost = np.bincount(t[left].astype(int), weights=w[left], minlength=n)[1:]
        active = np.bincount(t[~left].astype(int), weights=w[~left], minlength=n)
        if lost.sum() == 0:
            raise CLVInputError("churned", 0, "nobody left: retention is 100% and the lifetime unbounded")
        if active[1:].sum() == 0 and lost[1:].sum() == 0:
            raise CLVInputError(
                "periods", 1, "everybody left after one period: there is no retention to model"
            )
        likelihood = _CensoredLikelihood(lost, active)
        log_params, iterations, converged, message = maximise(
            likelihood, np.zeros(2), ("alpha", "beta"), unbounded_above=("beta",)
        )
        alpha, beta = np.exp(log_params)
        customers = lost.sum() + active.sum()
        info = FitInfo(
            log_likelihood=float(-likelihood(log_params)[0] * customers),
            n_customers=int(round(customers)),
            n_patterns=int((lost > 0).sum() + (active > 0).sum()),
            iterations=iterations,
            converged=converged,
            message=message,
        )
        return cls(alpha, beta, fit_info=info)

    @property
    def params(self) -> dict[str, float]:
        return {"alpha": self.alpha, "beta": self.beta}

    def churn_probability(self, t) -> np.ndarray:
        """P(T = t) = B(α + 1, β + t − 1)/B(α, β), the share of a new cohort that leaves at the end
        of period t = 1, 2, … (eq. 7 gives it by recursion)."""
        t = _periods("t", t, minimum=1)
        return np.exp(betaln(self.alpha + 1, self.beta + t - 1) - betaln(self.alpha, self.beta))

    def survival(self, t) -> np.ndarray:
        """S(t) = B(α, β + t)/B(α, β), the share of a new cohort still active after t periods."""
        t = _periods("t", t, minimum=0)
        return np.exp(betaln(self.alpha, self.beta + t) - betaln(self.alpha, self.beta))

    def retention_rate(self, t) -> np.ndarray:
        """r_t = (β + t − 1)/(α + β + t − 1), the share of those active in period t − 1 who renew
        for period t (eq. 8); it rises with t."""
        t = _periods("t", t, minimum=1)
        return (self.beta + t - 1) / (self.alpha + self.beta + t - 1)

    def expected_survivors(self, cohort_size, periods: int) -> np.ndarray:
        """Projected survivors after 0, 1, …, ``periods`` periods of a cohort of ``cohort_size``."""
        size = as_float_array("cohort_size", cohort_size)
        require("cohort_size", size, size >= 0, "a cohort cannot have fewer than 0 customers")
        return size * self.survival(np.arange(_periods("periods", periods, minimum=0) + 1))

    def discounted_expected_lifetime(self, discount_rate) -> np.ndarray:
        """DEL = Σ_{t≥0} S(t)/(1 + d)^t = 2F1(1, β; α + β; 1/(1 + d)), in periods.

        A new customer's expected number of payments, each discounted to the start of their first
        period, with payment at the start of each period (Fader & Hardie 2010). With
        every customer on the same retention rate r it would be (1 + d)/(1 + d − r), the seeds'
        paid-in-advance factor.
        """
        d = self._discount_rate(discount_rate)
        return hyp2f1(1, self.beta, self.alpha + self.beta, 1 / (1 + d))

    def discounted_expected_residual_lifetime(self, discount_rate, renewals=0) -> np.ndarray:
        """DERL(d | α, β, n − 1 renewals) = (β + n − 1)/(α + β + n − 1) · 2F1(1, β + n; α + β + n; 1/(1 + d))
        (Fader & Hardie 2010, eq. 6), with n − 1 = ``renewals`` already made.

        The expected discounted number of payments still to come from a customer in period n,
        valued at the end of that period, just before their next renewal decision: that
        renewal's payment is counted in full, each later one discounted once more per period.
        """
        d = self._discount_rate(discount_rate)
        n = _periods("renewals", renewals, minimum=0) + 1
        return (
            (self.beta + n - 1)
            / (self.alpha + self.beta + n - 1)
            * hyp2f1(1, self.beta + n, self.alpha + self.beta + n, 1 / (1 + d))
        )

    def expected_clv(self, margin, discount_rate) -> np.ndarray:
        """A new customer's expected value: margin per period × DEL (paid in advance)."""
        return as_float_array("margin", margin) * self.discounted_expected_lifetime(discount_rate)

    def expected_residual_value(self, margin, discount_rate, renewals=0, customers=1) -> np.ndarray:
        """The value still to come from ``customers`` active customers who have made ``renewals``
        renewals: customers × margin per period × DERL. Summed over a contractual base's
        cohorts, this is the base's value (Fader & Hardie 2010)."""
        count = as_float_array("customers", customers)
        require("customers", count, count >= 0, "a count of customers cannot be negative")
        margin = as_float_array("margin", margin)
        return count * margin * self.discounted_expected_residual_lifetime(discount_rate, renewals)

    def _discount_rate(self, discount_rate):
        d = as_float_array("discount_rate", discount_rate)
        require("discount_rate", d, d >= 0, "a discount rate cannot be negative")
        # Undiscounted, the series sums E[T], which is infinite unless α > 1 (2F1 at z = 1).
        if self.alpha <= 1:
            require(
                "discount_rate",
                d,
                d > 0,
                f"with alpha = {self.alpha:.4g} <= 1 the undiscounted lifetime is infinite",
            )
        return d


class _CohortLikelihood:
    """−(log-likelihood per starting customer) of the sBG over log (α, β), with its gradient."""

    def __init__(self, counts):
        self.n0 = counts[0]
        self.churned = counts[:-1] - counts[1:]  # left at the end of periods 1 … n
        self.t = np.arange(1, len(counts), dtype=float)
        self.still_active = counts[-1]
        self.last = float(len(counts) - 1)

    def __call__(self, log_params):
        alpha, beta = np.exp(log_params)
        t, n = self.t, self.last
        base = betaln(alpha, beta)
        log_p = betaln(alpha + 1, beta + t - 1) - base
        log_s = betaln(alpha, beta + n) - base
        ll = self.churned @ log_p + self.still_active * log_s
        psi_ab = digamma(alpha + beta)
        d_alpha = self.churned @ (digamma(alpha + 1) - digamma(alpha + beta + t) - digamma(alpha) + psi_ab)
        d_alpha += self.still_active * (psi_ab - digamma(alpha + beta + n))
        d_beta = self.churned @ (digamma(beta + t - 1) - digamma(alpha + beta + t) - digamma(beta) + psi_ab)
        d_beta += self.still_active * (digamma(beta + n) - digamma(alpha + beta + n) - digamma(beta) + psi_ab)
        if not np.isfinite(ll):
            return np.inf, np.zeros(2)
        return -ll / self.n0, -np.array([d_alpha * alpha, d_beta * beta]) / self.n0


class _CensoredLikelihood:
    """−(mean log-likelihood) of customers who left after t = 1, 2, … periods (``lost[t − 1]``)
    and customers still active after t = 0, 1, … periods (``active[t]``), with its gradient."""

    def __init__(self, lost, active):
        self.lost, self.active = lost, active
        self.t_lost = np.arange(1, len(lost) + 1, dtype=float)
        self.t_active = np.arange(len(active), dtype=float)
        self.n = lost.sum() + active.sum()

    def __call__(self, log_params):
        alpha, beta = np.exp(log_params)
        t, s = self.t_lost, self.t_active
        base = betaln(alpha, beta)
        ll = self.lost @ (betaln(alpha + 1, beta + t - 1) - base) + self.active @ (
            betaln(alpha, beta + s) - base
        )
        psi_ab = digamma(alpha + beta)
        d_alpha = self.lost @ (digamma(alpha + 1) - digamma(alpha + beta + t) - digamma(alpha) + psi_ab)
        d_alpha += self.active @ (psi_ab - digamma(alpha + beta + s))
        d_beta = self.lost @ (digamma(beta + t - 1) - digamma(alpha + beta + t) - digamma(beta) + psi_ab)
        d_beta += self.active @ (digamma(beta + s) - digamma(alpha + beta + s) - digamma(beta) + psi_ab)
        if not np.isfinite(ll):
            return np.inf, np.zeros(2)
        return -ll / self.n, -np.array([d_alpha * alpha, d_beta * beta]) / self.n


def _survivor_counts(alive) -> np.ndarray:
    counts = as_float_array("alive", alive)
    if counts.ndim != 1 or len(counts) < 3:
        raise CLVInputError(
            "alive", alive, "needs the cohort size and survivors after at least 2 periods (two parameters)"
        )
    require("alive", counts, counts >= 0, "a count of customers cannot be negative")
    if counts[0] == 0:
        raise CLVInputError("alive[0]", float(counts[0]), "the cohort must start with customers")
    increase = np.flatnonzero(np.diff(counts) > 0)
    if increase.size:
        t = int(increase[0]) + 1
        raise CLVInputError(
            f"alive[{t}]", float(counts[t]), f"survivors cannot increase (alive[{t - 1}] = {counts[t - 1]!r})"
        )
    if counts[-1] == counts[0]:
        raise CLVInputError("alive", alive, "nobody left: retention is 100% and the lifetime unbounded")
    if counts[1] == 0:
        raise CLVInputError(
            "alive[1]", 0.0, "everybody left after one period: there is no retention to model"
        )
    return counts


def _periods(argument: str, t, *, minimum: int):
    periods = as_float_array(argument, t)
    require(
        argument,
        periods,
        (periods >= minimum) & (periods == np.round(periods)),
        f"must be a whole number >= {minimum}",
    )
    return periods.astype(int) if periods.ndim else int(periods)
