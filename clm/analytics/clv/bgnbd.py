"""The BG/NBD model of repeat buying in a non-contractual setting.

Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005), "'Counting your customers' the easy way:
an alternative to the Pareto/NBD model", Marketing Science 24(2), 275–284. Equation numbers
below are the paper's. While alive, a customer buys at a Poisson rate λ ~ Gamma(r, α); after
each repeat purchase they drop out with probability p ~ Beta(a, b).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import betaln, digamma, expit, gammaln

from .errors import CLVInputError, as_float_array, positive_parameter, require
from .fitting import FitInfo, group_rows, maximise, refuse_implausible, require_sample, within_reach
from .hypergeometric import hyp2f1

_MAX_DROPOUT_CONCENTRATION = 1e4


@dataclass(frozen=True)
class BetaGeoModel:
    """BG/NBD with purchase-rate heterogeneity Gamma(r, α) and dropout heterogeneity Beta(a, b).

    Times (t_x, T, t) are in whatever period the data were summarised in; α is in that unit.
    """

    r: float
    alpha: float
    a: float
    b: float
    fit_info: FitInfo | None = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        for name in ("r", "alpha", "a", "b"):
            object.__setattr__(self, name, positive_parameter(name, getattr(self, name)))

    @classmethod
    def fit(cls, frequency, recency, T, *, weights=None) -> BetaGeoModel:
        """Maximum-likelihood estimates of (r, α, a, b) from each customer's (x, t_x, T).

        The log-likelihood (eq. 6) is evaluated once per distinct (x, t_x, T) and
        weighted by how many customers share it, with the log-sum of its two terms taken stably.
        """
        x, t_x, age = customer_arrays(frequency, recency, T)
        if x.ndim != 1:
            raise CLVInputError("frequency", f"shape {x.shape}", "one row per customer")
        weights = None if weights is None else _weights(weights, len(x))
        (xs, ts, Ts), counts = group_rows(x, t_x, age, weights=weights)
        customers, repeat_buyers = counts.sum(), counts[xs > 0].sum()
        require_sample("BG/NBD", customers, repeat_buyers)
        # Time is rescaled so the oldest customer has age 10: α is then of order one, as are
        # the other parameters, which the optimiser's line search needs.
        scale = 10.0 / Ts.max() if Ts.max() > 0 else 1.0
        likelihood = _GroupedLikelihood(xs, ts * scale, Ts * scale, counts)
        try:
            log_params, iterations, converged, message = maximise(
                likelihood, np.zeros(4), ("r", "alpha", "a", "b"), unbounded_above=("b",)
            )
        except CLVInputError as exc:
            refuse_implausible("BG/NBD", False, f"{exc.reason} ({exc.value})", customers, repeat_buyers)
        r, alpha, a, b = np.exp(log_params)
        alpha /= scale
        estimate = cls(r, alpha, a, b)
        # Over the span it was fitted on, no customer can be expected to buy many times more
        # often than the most frequent buyer did: more, or no finite number, is a failed fit.
        span = float(Ts.max())
        with np.errstate(all="ignore"):
            forecast = np.append(
                estimate.expected_purchases(span, xs, ts, Ts), estimate.expected_purchases_new_customer(span)
            )
        finite = bool(np.isfinite(forecast).all())
        refuse_implausible(
            "BG/NBD",
            within_reach(forecast, xs.max() + 1),
            f"its estimates {_rounded(estimate.params)} forecast "
            + (f"{forecast.max():.3g} purchases" if finite else "no finite number of purchases")
            + f" over {span:.3g} periods, in which the most frequent customer made {int(xs.max())};"
            " the base is too small or too uniform to learn from",
            customers,
            repeat_buyers,
        )
        info = FitInfo(
            log_likelihood=float(counts @ estimate.log_likelihood(xs, ts, Ts)),
            n_customers=int(round(counts.sum())),
            n_patterns=len(xs),
            iterations=iterations,
            converged=converged,
            message=message,
        )
        return cls(r, alpha, a, b, fit_info=info)

    @property
    def params(self) -> dict[str, float]:
        return {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b}

    def log_likelihood(self, frequency, recency, T) -> np.ndarray:
        """Each customer's log-likelihood, log L(r, α, a, b | x, t_x, T) (eq. 6)."""
        x, t_x, age = customer_arrays(frequency, recency, T)
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        a3 = -(r + x) * np.log(alpha + age)
        return (
            gammaln(r + x) - gammaln(r) + r * np.log(alpha)
            + betaln(a, b + x) - betaln(a, b)
            + np.logaddexp(a3, _dropout_term(x, t_x, r, alpha, a, b))
        )  # fmt: skip

    def probability_alive(self, frequency, recency, T) -> np.ndarray:
        """P(alive | x, t_x, T), the probability the customer has not dropped out by T.

        1 / (1 + δ(x>0) · a/(b + x − 1) · ((α + T)/(α + t_x))^(r + x)), as in Fader, Hardie &
        Lee's note "Computing P(alive) using the BG/NBD model" (2008).
        """
        x, t_x, age = customer_arrays(frequency, recency, T)
        return _p_alive(x, t_x, age, self.r, self.alpha, self.a, self.b)

    def expected_purchases(self, t, frequency, recency, T) -> np.ndarray:
        """E[Y(t) | x, t_x, T], the expected purchases in the next t periods (eq. 10).

        The paper's ((α+T)/(α+T+t))^(r+x) · 2F1(r+x, b+x; a+b+x−1; z), z = t/(α+T+t), is computed
        through Euler's transformation as (1 − z)^(a−1) · 2F1(a+b−1−r, a−1; a+b+x−1; z): as
        printed it is 0 · ∞ for heavy buyers (2F1 grows like (1 − z)^(a−1−r−x)); this is O(1).
        """
        x, t_x, age = customer_arrays(frequency, recency, T)
        t = as_float_array("t", t)
        require("t", t, t >= 0, "a forecast horizon cannot be negative")
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        if a + b > _MAX_DROPOUT_CONCENTRATION:
            # A fit on data showing no dropout heterogeneity sends a, b → ∞ at a fixed mean a/(a+b),
            # where 2F1's series overflows. Beyond this concentration the Beta is a point mass for
            # every practical purpose: the same mean at a + b = 1e4 changes E[Y(t)] by ~1e-3 relative.
            scale = _MAX_DROPOUT_CONCENTRATION / (a + b)
            return BetaGeoModel(r, alpha, a * scale, b * scale).expected_purchases(t, x, t_x, age)
        if abs(a - 1) < 1e-6:  # eq. 10 is 0/0 at a = 1: take the mean of its values either side
            left = BetaGeoModel(r, alpha, 1 - 1e-4, b).expected_purchases(t, x, t_x, age)
            right = BetaGeoModel(r, alpha, 1 + 1e-4, b).expected_purchases(t, x, t_x, age)
            return (left + right) / 2
        z = t / (alpha + age + t)
        bracket = 1 - (1 - z) ** (a - 1) * hyp2f1(a + b - 1 - r, a - 1, a + b + x - 1, z)
        return (a + b + x - 1) / (a - 1) * bracket * _p_alive(x, t_x, age, r, alpha, a, b)

    def expected_purchases_new_customer(self, t) -> np.ndarray:
        """E[X(t)], the expected repeat purchases in (0, t] of a customer who bought at 0 (eq. 7)."""
        t = as_float_array("t", t)
        zero = np.zeros_like(t)
        return self.expected_purchases(t, zero, zero, zero)

    def simulate(self, T, rng=None) -> tuple[np.ndarray, np.ndarray]:
        """Draw (x, t_x) for customers observed for T periods after their first purchase.

        The model's assumptions: λ ~ Gamma(r, α), p ~ Beta(a, b); the customer drops out
        after repeat purchase K ~ Geometric(p); purchases arrive at rate λ. Of the N(T) ~
        Poisson(λT) arrivals in (0, T] they make x = min(N, K), and the x-th of N uniform
        arrival times is T·Beta(x, N − x + 1), so no customer is simulated one by one.
        """
        age = as_float_array("T", T)
        require("T", age, age >= 0, "an age cannot be negative")
        rng = np.random.default_rng(rng)
        rate = rng.gamma(self.r, 1 / self.alpha, size=age.shape)
        dropout = np.clip(rng.beta(self.a, self.b, size=age.shape), np.finfo(float).tiny, 1)
        purchases_before_dropout = rng.geometric(dropout)
        arrivals = rng.poisson(rate * age)
        x = np.minimum(arrivals, purchases_before_dropout)
        last = rng.beta(np.maximum(x, 1), arrivals - x + 1)
        return x.astype(float), np.where(x > 0, age * last, 0.0)


class _GroupedLikelihood:
    """−(mean log-likelihood) of eq. 6 over log-parameters, and its gradient.

    Written as LL = A1 + A2 + A3 + softplus(A4 − A3), softplus only for repeat buyers: terms in
    x alone are computed once per distinct x, and no logaddexp (the slowest ufunc here) is needed.
    """

    def __init__(self, x, t_x, T, counts):
        order = np.argsort(x, kind="stable")  # repeat buyers last, so they are a slice
        x, t_x, T, counts = x[order], t_x[order], T[order], counts[order]
        self.T, self.w, self.wx_T = T, counts, counts * x
        self.n = counts.sum()
        self.ux, ix = np.unique(x, return_inverse=True)
        self.wx = np.bincount(ix, weights=counts, minlength=len(self.ux))
        first = int(np.searchsorted(x, 0, side="right"))
        self.repeat = slice(first, None)
        self.x_rep, self.t_rep, self.w_rep, self.ix_rep = x[first:], t_x[first:], counts[first:], ix[first:]

    def __call__(self, log_params):
        r, alpha, a, b = np.exp(log_params)
        ux, wx, n = self.ux, self.wx, self.n
        with np.errstate(divide="ignore", invalid="ignore"):
            log_b_x1 = np.log(b + ux - 1)  # only read for x >= 1

        log_at_T = np.log(alpha + self.T)
        inv_at_T = 1 / (alpha + self.T)
        lT_rep, invT_rep = log_at_T[self.repeat], inv_at_T[self.repeat]
        log_at_tx = np.log(alpha + self.t_rep)
        # D = A4 − A3: the log-odds that a repeat buyer dropped out after their last purchase
        d = np.log(a) - log_b_x1[self.ix_rep] + (r + self.x_rep) * (lT_rep - log_at_tx)
        small = np.exp(-np.abs(d))
        softplus = np.maximum(d, 0) + np.log1p(small)
        dropped = np.where(d > 0, 1, small) / (1 + small)  # expit(d)
        w_dropped = self.w_rep * dropped

        per_x = gammaln(r + ux) - gammaln(r) + betaln(a, b + ux) - betaln(a, b)
        ll = wx @ per_x + n * r * np.log(alpha) - r * (self.w @ log_at_T) - self.wx_T @ log_at_T
        ll += self.w_rep @ softplus

        d_r = wx @ (digamma(r + ux) - digamma(r)) + n * np.log(alpha) - self.w @ log_at_T
        d_r += w_dropped @ (lT_rep - log_at_tx)
        d_alpha = n * r / alpha - r * (self.w @ inv_at_T) - self.wx_T @ inv_at_T
        d_alpha += w_dropped @ ((r + self.x_rep) * (invT_rep - 1 / (alpha + self.t_rep)))
        psi_ab, psi_abx = digamma(a + b), digamma(a + b + ux)
        dropped_by_x = np.bincount(self.ix_rep, weights=w_dropped, minlength=len(ux))
        d_a = wx @ (psi_ab - psi_abx) + dropped_by_x.sum() / a
        d_b = wx @ (digamma(b + ux) - psi_abx - digamma(b) + psi_ab)
        d_b -= dropped_by_x[ux > 0] @ np.exp(-log_b_x1[ux > 0])
        if not np.isfinite(ll):
            return np.inf, np.zeros(4)
        gradient = np.array([d_r * r, d_alpha * alpha, d_a * a, d_b * b])
        return -ll / n, -gradient / n


def _dropout_term(x, t_x, r, alpha, a, b):
    """log of the second term of eq. 6, a/(b+x−1)·(α+t_x)^−(r+x); absent (−inf) when x = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.log(a) - np.log(b + np.maximum(x, 1) - 1) - (r + x) * np.log(alpha + t_x)
    return np.where(x > 0, term, -np.inf)


def _p_alive(x, t_x, age, r, alpha, a, b):
    log_odds_dropped = _dropout_term(x, t_x, r, alpha, a, b) + (r + x) * np.log(alpha + age)
    return expit(-log_odds_dropped)


def customer_arrays(frequency, recency, T):
    """(x, t_x, T) as broadcast float arrays, refusing impossible combinations."""
    x = as_float_array("frequency", frequency)
    t_x = as_float_array("recency", recency)
    age = as_float_array("T", T)
    require("frequency", x, (x >= 0) & (x == np.round(x)), "a purchase count is a whole number >= 0")
    require("recency", t_x, t_x >= 0, "recency cannot be negative")
    x, t_x, age = np.broadcast_arrays(x, t_x, age)
    require("recency", t_x, t_x <= age * (1 + 1e-12) + 1e-12, "recency cannot exceed the customer's age T")
    require("recency", t_x, (x > 0) | (t_x == 0), "a customer with no repeat purchase has recency 0")
    return x, t_x, age


def _rounded(params: dict) -> dict:
    return {k: float(f"{v:.3g}") for k, v in params.items()}


def _weights(weights, n):
    w = as_float_array("weights", weights)
    if w.shape != (n,):
        raise CLVInputError("weights", f"shape {w.shape}", f"must have one weight per customer ({n})")
    require("weights", w, w >= 0, "a weight counts customers and cannot be negative")
    return w


def holdout_comparison(model: BetaGeoModel, summary: pd.DataFrame, max_frequency: int = 7) -> pd.DataFrame:
    """Actual against predicted holdout purchases, by calibration repeat purchases 0 … max+.

    Fader, Hardie & Lee (2005)'s conditional-expectations check: for each group
    of customers with the same calibration x, the mean of the purchases they made in the holdout
    and the mean of E[Y(t) | x, t_x, T] (eq. 10) with t the holdout's length. ``summary`` is the
    output of ``calibration_and_holdout``. A last row "total" sums over all customers.
    """
    x, t_x, age = customer_arrays(summary["frequency"], summary["recency"], summary["T"])
    predicted = model.expected_purchases(summary["duration_holdout"].to_numpy(dtype=float), x, t_x, age)
    group = np.minimum(x, max_frequency).astype(int)
    frame = pd.DataFrame(
        {"group": group, "actual": summary["frequency_holdout"].to_numpy(dtype=float), "predicted": predicted}
    )
    by_group = frame.groupby("group").agg(
        customers=("actual", "size"),
        actual=("actual", "mean"),
        predicted=("predicted", "mean"),
        actual_total=("actual", "sum"),
        predicted_total=("predicted", "sum"),
    )
    by_group.index = [f"{g}+" if g == max_frequency else str(g) for g in by_group.index]
    totals = by_group[["customers", "actual_total", "predicted_total"]].sum()
    by_group.loc["total"] = [
        totals["customers"],
        totals["actual_total"] / totals["customers"],
        totals["predicted_total"] / totals["customers"],
        totals["actual_total"],
        totals["predicted_total"],
    ]
    by_group.index.name = "calibration_frequency"
    by_group["customers"] = by_group["customers"].astype(int)
    return by_group
