"""What the maximum-likelihood fits share: the record of a fit and the optimiser call."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
from scipy.optimize import minimize
from threadpoolctl import ThreadpoolController

from .errors import CLVInputError, NotEnoughDataError


@dataclass(frozen=True)
class FitInfo:
    """How a maximum-likelihood fit went."""

    log_likelihood: float
    n_customers: int
    n_patterns: int  # distinct data rows the likelihood was evaluated on
    iterations: int
    converged: bool
    message: str


# Log-parameters are kept in this box: exp(±30) is far beyond any real estimate, and the
# box keeps a wild line search from overflowing.
_LOG_BOUND = 30.0


def maximise(
    negative_mean_ll: Callable[[np.ndarray], tuple[float, np.ndarray]],
    initial_log_params: np.ndarray,
    parameter_names: tuple[str, ...],
    *,
    unbounded_above: tuple[str, ...] = (),
) -> tuple[np.ndarray, int, bool, str]:
    """Minimise a negative mean log-likelihood over log-parameters, with its analytic gradient.

    A parameter named in ``unbounded_above`` may end at the box's upper edge when the others do
    not: the likelihood then rises towards a limit the model still describes (a Beta whose
    concentration grows at a fixed mean is one probability for everybody), and the estimate at
    the edge stands for it; the message says so."""
    # One BLAS thread: L-BFGS-B's tiny BLAS calls and the likelihood's dot products otherwise
    # wake OpenBLAS's thread pool, which on a busy two-core machine waits for a free core and
    # turns a 10-ms fit into 200 ms.
    with _blas().limit(limits=1, user_api="blas"):
        result = minimize(
            negative_mean_ll,
            initial_log_params,
            jac=True,
            method="L-BFGS-B",
            bounds=[(-_LOG_BOUND, _LOG_BOUND)] * len(initial_log_params),
            options={"maxiter": 2000, "ftol": 1e-14, "gtol": 1e-9},
        )
    at_bound = np.abs(result.x) >= _LOG_BOUND - 1e-6
    limit = np.array([name in unbounded_above for name in parameter_names]) & (result.x > 0) & at_bound
    message = str(result.message)
    if limit.any() and not (at_bound & ~limit).any():
        names = ", ".join(n for n, hit in zip(parameter_names, limit, strict=True) if hit)
        return (
            result.x,
            int(result.nit),
            bool(result.success),
            f"{names} at the limit (no heterogeneity); {message}",
        )
    if at_bound.any():
        raise CLVInputError(
            "data",
            f"{parameter_names[int(np.argmax(at_bound))]} -> {np.exp(result.x[at_bound][0]):.3g}",
            "the likelihood has no maximum at finite, positive parameters: too little or degenerate data",
        )
    return result.x, int(result.nit), bool(result.success), message


# The smallest base a model is estimated from. Four (BG/NBD) or three (Gamma-Gamma) parameters
# describe how customers differ; from fewer customers than this the likelihood is flat in some
# direction and the optimiser wanders off towards estimates like a = 1e12 or q = 1.0001, which
# value customers at 1e44. The numbers are a floor, not a guarantee: the fits also check what
# their estimates predict (``refuse_implausible``).
MIN_CUSTOMERS = 30
MIN_REPEAT_BUYERS = 10
# An estimate whose forecast for its own data exceeds what was observed by this factor is refused.
PLAUSIBLE_FACTOR = 10.0


def require_sample(model: str, customers: float, repeat_buyers: float, *, repeat_only: bool = False) -> None:
    """Refuse a base too small to estimate ``model`` from, saying how many it has and needs
    (``repeat_only``: a model of repeat buyers alone, which needs MIN_REPEAT_BUYERS of them)."""
    customers, repeat_buyers = int(round(customers)), int(round(repeat_buyers))
    min_customers = MIN_REPEAT_BUYERS if repeat_only else MIN_CUSTOMERS
    if customers < min_customers or repeat_buyers < MIN_REPEAT_BUYERS:
        raise NotEnoughDataError(
            model,
            f"it needs at least {min_customers} customers of whom {MIN_REPEAT_BUYERS} bought again",
            customers=customers,
            repeat_buyers=repeat_buyers,
            needed=min_customers,
        )


def within_reach(predicted: np.ndarray, observed: float) -> bool:
    """Whether every prediction is finite and at most PLAUSIBLE_FACTOR times ``observed``."""
    predicted = np.asarray(predicted, dtype=float)
    return bool(np.isfinite(predicted).all() and predicted.max() <= PLAUSIBLE_FACTOR * observed)


def refuse_implausible(model: str, ok: bool, reason: str, customers: float, repeat_buyers: float) -> None:
    """Refuse estimates that describe no real customer base (see ``NotEnoughDataError``)."""
    if not ok:
        raise NotEnoughDataError(
            model,
            reason,
            customers=int(round(customers)),
            repeat_buyers=int(round(repeat_buyers)),
            needed=MIN_CUSTOMERS,
        )


@cache
def _blas() -> ThreadpoolController:
    return ThreadpoolController()  # inspecting the loaded libraries once saves ~1 ms per fit


def group_rows(*columns: np.ndarray, weights: np.ndarray | None = None):
    """Collapse identical rows: the distinct rows (one array per column) and how many of each.

    The same as ``np.unique(rows, axis=0, return_counts=True)``, by a lexsort on the columns,
    which is several times faster on a million float rows.
    """
    n = len(columns[0])
    weights = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    if n == 0:
        return [c[:0] for c in columns], weights[:0]
    order = np.lexsort(columns[::-1])
    sorted_columns = [c[order] for c in columns]
    new = np.zeros(n, dtype=bool)
    new[0] = True
    for c in sorted_columns:
        new[1:] |= c[1:] != c[:-1]
    starts = np.flatnonzero(new)
    return [c[starts] for c in sorted_columns], np.add.reduceat(weights[order], starts)
