"""The Gamma-Gamma model of spend per transaction, and the discounted CLV it gives with BG/NBD.

Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005), "RFM and CLV: using iso-value curves for
customer base analysis", Journal of Marketing Research 42(4), 415–430; the model as written in
Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary Value" (note at brucehardie.com).
A customer's transaction values are Gamma(p, ν) around their mean p/ν, and ν ~ Gamma(q, γ)
across customers; γ is called ``v`` here, as in lifetimes and pymc-marketing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import digamma, gammaln

from .bgnbd import BetaGeoModel, customer_arrays
from .data import DAYS_PER_PERIOD
from .errors import CLVInputError, as_float_array, positive_parameter, require
from .fitting import FitInfo, group_rows, maximise, refuse_implausible, require_sample, within_reach


@dataclass(frozen=True)
class GammaGammaModel:
    """Gamma-Gamma spend model: shape p of each customer's spend, Gamma(q, v) on its rate."""

    p: float
    q: float
    v: float
    fit_info: FitInfo | None = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        for name in ("p", "q", "v"):
            object.__setattr__(self, name, positive_parameter(name, getattr(self, name)))

    @classmethod
    def fit(cls, frequency, monetary_value) -> GammaGammaModel:
        """Maximum-likelihood (p, q, v) from repeat customers' x and mean spend m_x.

        Only customers with x > 0 carry information about spend; pass those (a zero frequency or
        a non-positive spend is refused rather than silently dropped).
        """
        x, m = _spend_data(frequency, monetary_value, repeat_only=True)
        (xs, ms), counts = group_rows(x, m)
        n = counts.sum()
        require_sample("Gamma-Gamma", n, n, repeat_only=True)
        # Money is rescaled to a mean of 1 so v is of order one for the optimiser.
        scale = float(np.average(ms, weights=counts))
        likelihood = _GroupedLikelihood(xs, ms / scale, counts)
        try:
            log_params, iterations, converged, message = maximise(
                likelihood, np.array([0.0, 1.0, 0.0]), ("p", "q", "v")
            )
        except CLVInputError as exc:
            refuse_implausible("Gamma-Gamma", False, f"{exc.reason} ({exc.value})", n, n)
        p, q, v = np.exp(log_params)
        estimate = cls(p, q, v * scale)
        # q ≤ 1 gives every customer an infinite expected spend (E[M] = p·v/(q − 1)); a population
        # mean far above every customer's own mean is the same failure seen from closer.
        mean = p * v * scale / (q - 1) if q > 1 else np.inf
        refuse_implausible(
            "Gamma-Gamma",
            within_reach(mean, ms.max()),
            f"q = {q:.3g} <= 1: the spends vary so widely that the mean spend per order is infinite"
            if q <= 1
            else f"a mean spend per order of {mean:.3g} where the highest customer mean is {ms.max():.3g}:"
            " the base is too small to learn how spend varies",
            n,
            n,
        )
        info = FitInfo(
            log_likelihood=float(counts @ estimate.log_likelihood(xs, ms)),
            n_customers=int(round(counts.sum())),
            n_patterns=len(xs),
            iterations=iterations,
            converged=converged,
            message=message,
        )
        return cls(p, q, v * scale, fit_info=info)

    @property
    def params(self) -> dict[str, float]:
        return {"p": self.p, "q": self.q, "v": self.v}

    def log_likelihood(self, frequency, monetary_value) -> np.ndarray:
        """log f(m_x | p, q, v; x), the density of a customer's mean spend over x transactions."""
        x, m = _spend_data(frequency, monetary_value, repeat_only=True)
        p, q, v = self.p, self.q, self.v
        return (
            gammaln(p * x + q) - gammaln(p * x) - gammaln(q)
            + q * np.log(v) + (p * x - 1) * np.log(m) + p * x * np.log(x)
            - (p * x + q) * np.log(v + m * x)
        )  # fmt: skip

    def expected_average_spend_new_customer(self) -> float:
        """E[M] = p·v/(q − 1), the population mean spend per transaction (needs q > 1)."""
        if self.q <= 1:
            raise CLVInputError("q", self.q, "the population mean spend is infinite for q <= 1")
        return self.p * self.v / (self.q - 1)

    def expected_average_spend(self, frequency, monetary_value) -> np.ndarray:
        """E[M | x, m_x] = (v + m_x·x)·p / (p·x + q − 1).

        A weighted mean of the population mean p·v/(q − 1) and the customer's own m_x, with
        weight p·x/(p·x + q − 1) on m_x; for x = 0 it is the population mean whatever m_x.
        """
        x, m = _spend_data(frequency, monetary_value, repeat_only=False)
        if self.q <= 1:
            raise CLVInputError("q", self.q, "the conditional mean spend is infinite for q <= 1")
        return (self.v + m * x) * self.p / (self.p * x + self.q - 1)

    def expected_customer_lifetime_value(
        self,
        transaction_model: BetaGeoModel,
        frequency,
        recency,
        T,
        monetary_value,
        *,
        months: int = 12,
        monthly_discount_rate: float = 0.01,
        period: str = "week",
        periods_per_month: float | None = None,
    ) -> np.ndarray:
        """Each customer's discounted value over the next ``months`` months.

        Σ_{m=1..months} E[purchases in month m | x, t_x, T] · E[M | x, m_x] / (1 + d)^m, with the
        purchases from the BG/NBD conditional expectation (eq. 10 of "Counting your customers")
        differenced month by month: lifetimes' ``customer_lifetime_value``. ``period`` is the
        unit the transaction model was fitted in; a month is 365.2425/12 days unless
        ``periods_per_month`` says otherwise (lifetimes uses 4.345 weeks).
        """
        if int(months) != months or months < 1:
            raise CLVInputError("months", months, "must be a whole number of months, at least 1")
        d = as_float_array("monthly_discount_rate", monthly_discount_rate)
        require("monthly_discount_rate", d, d >= 0, "a discount rate cannot be negative")
        if period not in DAYS_PER_PERIOD:
            raise CLVInputError("period", period, f"must be one of {sorted(DAYS_PER_PERIOD)}")
        if periods_per_month is None:
            periods_per_month = DAYS_PER_PERIOD["month"] / DAYS_PER_PERIOD[period]
        per_month = as_float_array("periods_per_month", periods_per_month)
        require("periods_per_month", per_month, per_month > 0, "a month holds a positive number of periods")

        spend = self.expected_average_spend(frequency, monetary_value)
        horizons = np.arange(int(months) + 1, dtype=float) * float(per_month)
        x, t_x, age = customer_arrays(frequency, recency, T)
        cumulative = transaction_model.expected_purchases(horizons[:, None], x[None], t_x[None], age[None])
        purchases_by_month = np.diff(cumulative, axis=0)
        discount = (1 + d) ** -np.arange(1, int(months) + 1, dtype=float)
        return spend * np.einsum("m,mn->n", discount, purchases_by_month)


class _GroupedLikelihood:
    """−(mean log-likelihood) of the Gamma-Gamma over log (p, q, v), with its gradient."""

    def __init__(self, x, m, counts):
        self.x, self.m, self.w = x, m, counts
        self.n = counts.sum()
        self.constant = -(counts @ np.log(m))  # the −1 of (px − 1)·log m
        self.log_m, self.log_x = np.log(m), np.log(x)
        self.mx = m * x

    def __call__(self, log_params):
        p, q, v = np.exp(log_params)
        x, w = self.x, self.w
        px = p * x
        log_v_mx = np.log(v + self.mx)
        ll = w @ (
            gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(v)
            + px * (self.log_m + self.log_x) - (px + q) * log_v_mx
        ) + self.constant  # fmt: skip
        psi_pxq = digamma(px + q)
        d_p = w @ (x * (psi_pxq - digamma(px) + self.log_m + self.log_x - log_v_mx))
        d_q = w @ (psi_pxq - digamma(q) + np.log(v) - log_v_mx)
        d_v = w @ (q / v - (px + q) / (v + self.mx))
        if not np.isfinite(ll):
            return np.inf, np.zeros(3)
        return -ll / self.n, -np.array([d_p * p, d_q * q, d_v * v]) / self.n


def _spend_data(frequency, monetary_value, *, repeat_only: bool):
    x = as_float_array("frequency", frequency)
    m = as_float_array("monetary_value", monetary_value)
    require("frequency", x, (x >= 0) & (x == np.round(x)), "a purchase count is a whole number >= 0")
    x, m = np.broadcast_arrays(x, m)
    if repeat_only:
        require("frequency", x, x > 0, "the spend model is fitted on repeat customers only (x > 0)")
        require("monetary_value", m, m > 0, "a repeat customer's mean spend must be positive")
    else:
        require("monetary_value", m, (m > 0) | (x == 0), "a repeat customer's mean spend must be positive")
    return x, m
