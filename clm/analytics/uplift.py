"""Uplift of a play: treated versus held-out accounts on a yes/no outcome, with a 95% interval for
the difference of the two proportions.

The interval is Newcombe's hybrid score interval ("method 10" in R. G. Newcombe, Interval
estimation for the difference between independent proportions: comparison of eleven methods,
Statistics in Medicine 17 (1998) 873–890): each proportion gets its Wilson score interval
(E. B. Wilson, JASA 22 (1927) 209–212), and the difference's limits combine the distances from each
proportion to its limits (Newcombe's equation for L and U under method 10). It keeps close to
95% coverage for small samples and proportions near 0 or 1, where the Wald interval does not.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

Z95 = 1.959963984540054  # the 97.5th percentile of the standard normal

# Below these, the report says the sample is too small to tell (the normal approximations behind
# any interval are poor, and an interval this wide cannot tell a useful effect from none).
MIN_PER_GROUP = 30
MIN_EVENTS = 5


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson's score interval for a proportion successes/n (Newcombe 1998, method 3)."""
    if n <= 0:
        raise ValueError("a proportion needs n ≥ 1")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must lie in 0..{n}, got {successes}")
    p = successes / n
    centre = 2 * n * p + z * z
    spread = z * math.sqrt(z * z + 4 * n * p * (1 - p))
    denominator = 2 * (n + z * z)
    return (centre - spread) / denominator, (centre + spread) / denominator


def newcombe_difference(x1: int, n1: int, x2: int, n2: int, z: float = Z95) -> tuple[float, float, float]:
    """The difference p1 − p2 and its hybrid score interval (Newcombe 1998, method 10):
    L = d − √((p1 − l1)² + (u2 − p2)²), U = d + √((u1 − p1)² + (p2 − l2)²)."""
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson(x1, n1, z)
    l2, u2 = wilson(x2, n2, z)
    d = p1 - p2
    return d, d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)


@dataclass(frozen=True)
class Uplift:
    treated: int
    treated_successes: int
    held_out: int
    held_out_successes: int
    treated_rate: float | None
    held_out_rate: float | None
    difference: float | None
    low: float | None
    high: float | None
    too_small: bool
    verdict: str

    def as_dict(self) -> dict:
        return asdict(self)


def uplift(treated: int, treated_successes: int, held_out: int, held_out_successes: int) -> Uplift:
    """Compare the outcome rate of treated and held-out subjects; the verdict says, in words,
    whether the play made a difference, made none that the data can show, or whether the sample
    is too small to tell."""
    counts = (treated, treated_successes, held_out, held_out_successes)
    if any(isinstance(c, bool) or not isinstance(c, int) or c < 0 for c in counts):
        raise ValueError(f"counts must be whole numbers ≥ 0, got {counts}")
    if treated_successes > treated or held_out_successes > held_out:
        raise ValueError("successes cannot exceed the group's size")
    if treated == 0 or held_out == 0:
        which = "treated" if treated == 0 else "held-out"
        return Uplift(
            *counts,
            _rate(treated_successes, treated),
            _rate(held_out_successes, held_out),
            None,
            None,
            None,
            True,
            f"too small to tell: no {which} accounts with a known outcome yet",
        )
    d, low, high = newcombe_difference(treated_successes, treated, held_out_successes, held_out)
    events = min(
        treated_successes, treated - treated_successes, held_out_successes, held_out - held_out_successes
    )
    too_small = min(treated, held_out) < MIN_PER_GROUP or events < MIN_EVENTS
    if too_small:
        verdict = (
            f"too small to tell: {treated} treated and {held_out} held out "
            f"(at least {MIN_PER_GROUP} in each group and {MIN_EVENTS} of each outcome are needed)"
        )
    elif low > 0:
        verdict = f"the play helps: {d:+.1%} (95% interval {low:+.1%} to {high:+.1%})"
    elif high < 0:
        verdict = f"the play hurts: {d:+.1%} (95% interval {low:+.1%} to {high:+.1%})"
    else:
        verdict = f"no difference shown: {d:+.1%} (95% interval {low:+.1%} to {high:+.1%} includes 0)"
    return Uplift(
        *counts, treated_successes / treated, held_out_successes / held_out, d, low, high, too_small, verdict
    )


def _rate(successes: int, n: int) -> float | None:
    return successes / n if n else None


def share_saved(treated_rate: float, held_out_rate: float) -> float:
    """The relative risk reduction of a play whose outcome is a success to keep (retained,
    renewed): of the failures the held-out group suffered, the share the play prevented,
    (f_held − f_treated) / f_held with f = 1 − rate (Laupacis, Sackett & Roberts, NEJM 318 (1988)
    1728–1733: relative risk reduction = (CER − EER) / CER). Zero when the held-out group never
    failed (there was nothing to save)."""
    for name, rate in (("treated_rate", treated_rate), ("held_out_rate", held_out_rate)):
        if not 0 <= rate <= 1:
            raise ValueError(f"{name} must lie in 0..1, got {rate}")
    held_failures = 1 - held_out_rate
    if held_failures == 0:
        return 0.0
    return (held_failures - (1 - treated_rate)) / held_failures
