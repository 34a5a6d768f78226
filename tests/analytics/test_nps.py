"""Net Promoter Score: Reichheld (2003), "The One Number You Need to Grow", Harvard Business Review
81(12) — promoters answer 9–10, passives 7–8, detractors 0–6 — and Bain & Company's definition,
NPS = % promoters − % detractors (netpromotersystem.com, "The Net Promoter Score")."""

import numpy as np
import pytest

from clm.analytics.nps import NetPromoterScore, net_promoter_score
from clm.analytics.value_frames import AnalyticsInputError


def test_worked_example_of_the_definition():
    # 20 answers: 9 promoters (45%), 6 passives (30%), 5 detractors (25%): NPS = 45 − 25 = 20
    answers = [10] * 4 + [9] * 5 + [8] * 3 + [7] * 3 + [6] * 2 + [3] * 2 + [0]
    nps = net_promoter_score(answers)
    assert (nps.promoters, nps.passives, nps.detractors, nps.responses) == (9, 6, 5, 20)
    assert nps.score == pytest.approx(20.0)


def test_the_bands_end_exactly_at_6_and_9():
    nps = net_promoter_score([6, 7, 8, 9])
    assert (nps.detractors, nps.passives, nps.promoters) == (1, 2, 1)


def test_it_ranges_from_minus_100_to_100():
    assert net_promoter_score([0, 6, 3]).score == -100.0
    assert net_promoter_score(np.array([9, 10])).score == 100.0
    assert net_promoter_score([7, 8]).score == 0.0  # passives only


def test_without_answers_there_is_no_score():
    assert net_promoter_score([]) == NetPromoterScore(0, 0, 0)
    assert net_promoter_score([]).score is None


@pytest.mark.parametrize("answers", [[11], [-1], [7.5], [float("nan")], ["seven"], [None]])
def test_it_refuses_an_answer_outside_the_scale(answers):
    with pytest.raises(AnalyticsInputError, match="scores"):
        net_promoter_score(answers)
