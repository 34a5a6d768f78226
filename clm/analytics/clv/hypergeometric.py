"""The Gauss hypergeometric function 2F1, made safe for the arguments the CLV models pass it."""

from __future__ import annotations

import numpy as np
from scipy import special

# scipy evaluates 2F1 near z = 1 through the 1 − z transformation, whose gamma-function ratios
# are singular when c − a − b is an integer. At or very near one it returns nan or loses digits
# (2F1(7.99, −0.7; 203.29; 0.94) is nan; 2F1 with c − a − b = 2 at z = 0.999 is off by 2e-4).
# In BG/NBD's eq. 10 that happens whenever r − a is a whole number, e.g. r = a.
_NEAR_INTEGER = 1e-6
_STEP = 1e-4  # far enough from the singularity for scipy, close enough for a 1e-8 average


def hyp2f1(a, b, c, z) -> np.ndarray:
    """2F1(a, b; c; z) for real z in [0, 1).

    Where c − a − b is within 1e-6 of an integer and z > 0.5, or scipy gives no finite value,
    the value is the mean of 2F1 at a ± 1e-4 (2F1 is smooth in a; the error is O(1e-8)
    relative), and failing that the power series itself.
    """
    a, b, c, z = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (a, b, c, z)))
    value = np.array(special.hyp2f1(a, b, c, z), dtype=float, ndmin=1).reshape(a.shape)
    gap = c - a - b
    suspect = ~np.isfinite(value) | ((np.abs(gap - np.round(gap)) < _NEAR_INTEGER) & (z > 0.5))
    if suspect.any():
        a_s, b_s, c_s, z_s = a[suspect], b[suspect], c[suspect], z[suspect]
        value[suspect] = (
            special.hyp2f1(a_s + _STEP, b_s, c_s, z_s) + special.hyp2f1(a_s - _STEP, b_s, c_s, z_s)
        ) / 2
        still = suspect & ~np.isfinite(value)
        if still.any():
            value[still] = _series(a[still], b[still], c[still], z[still])
    return value if value.ndim else value[()]


def _series(a, b, c, z, max_terms: int = 100_000) -> np.ndarray:
    """Σ_k (a)_k (b)_k / ((c)_k k!) z^k, summed until every term is below 1e-17 of its sum."""
    total = np.ones_like(z)
    term = np.ones_like(z)
    active = np.ones(z.shape, dtype=bool)
    for k in range(max_terms):
        ratio = (a[active] + k) * (b[active] + k) / ((c[active] + k) * (k + 1)) * z[active]
        term[active] *= ratio
        total[active] += term[active]
        # Done once the terms are both negligible and shrinking.
        shrinking = np.zeros_like(active)
        shrinking[active] = np.abs(ratio) < 1
        active &= ~shrinking | (np.abs(term) > 1e-17 * np.abs(total))
        if not active.any():
            return total
    total[active] = np.nan
    return total
