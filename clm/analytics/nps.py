"""Net Promoter Score over answers to "how likely are you to recommend us?" on a 0–10 scale.

Reichheld (2003), "The One Number You Need to Grow", Harvard Business Review 81(12): promoters
answer 9–10, passives 7–8, detractors 0–6; NPS = % promoters − % detractors (Bain & Company's
definition), from −100 to 100. Passives count in the base but neither add nor subtract.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .value_frames import AnalyticsInputError

PROMOTER_MIN = 9
DETRACTOR_MAX = 6


@dataclass(frozen=True)
class NetPromoterScore:
    promoters: int
    passives: int
    detractors: int

    @property
    def responses(self) -> int:
        return self.promoters + self.passives + self.detractors

    @property
    def score(self) -> float | None:
        """% promoters − % detractors; None without a response (undefined, not 0)."""
        if not self.responses:
            return None
        return 100.0 * (self.promoters - self.detractors) / self.responses


def net_promoter_score(scores) -> NetPromoterScore:
    """Count the promoters, passives and detractors among ``scores`` (whole numbers 0–10)."""
    try:
        values = np.asarray(list(scores), dtype=float).ravel()
    except (TypeError, ValueError):
        raise AnalyticsInputError("scores", scores, "NPS answers are numbers from 0 to 10") from None
    bad = ~np.isfinite(values) | (values < 0) | (values > 10) | (values != np.round(values))
    if bad.any():
        raise AnalyticsInputError(
            "scores", values[bad][0].item(), "an NPS answer is a whole number from 0 to 10"
        )
    promoters = int((values >= PROMOTER_MIN).sum())
    detractors = int((values <= DETRACTOR_MAX).sum())
    return NetPromoterScore(promoters, len(values) - promoters - detractors, detractors)
