"""The pure win-back arithmetic, against hand computations."""

import numpy as np
import pandas as pd
import pytest

from clm.analytics.winback import decay, reactivation_potential, success_by, winback_priority


def test_decay_halves_every_180_days():
    assert decay([0, 180, 360]).tolist() == [1.0, 0.5, 0.25]


def test_priority_is_value_times_the_decay():
    # 100000 × ¼ = 25000; 40000 × 1 = 40000
    assert winback_priority([100000, 40000], [360, 0]).tolist() == [25000.0, 40000.0]


def test_reactivation_potential_worked_example():
    frame = pd.DataFrame(
        {"p_alive": [0.8, np.nan, 0.3], "past_value": [50000, 10000, 90000],
         "days_quiet": [90, 180, 360], "reason": ["none_known", "complaints", "detractor"]},
        index=[1, 2, 3],
    )
    out = reactivation_potential(frame)
    # account 1: alive 0.8 (BG/NBD), value rank 2/3, recency 0.5 ** 0.5 = 0.70711, factor 1
    #   100 × (0.5 × 0.8 + 0.3 × 0.66667 + 0.2 × 0.70711) × 1 = 100 × 0.74142 = 74.1
    # account 2: alive from recency 0.5 (no BG/NBD), value 1/3, recency 0.5, factor 0.7
    #   100 × (0.25 + 0.1 + 0.1) × 0.7 = 31.5
    # account 3: alive 0.3, value 1, recency 0.25, factor 0.6 → 100 × (0.15 + 0.3 + 0.05) × 0.6 = 30.0
    assert out["score"].tolist() == [74.1, 31.5, 30.0]
    assert out["alive_source"].tolist() == ["bgnbd", "recency", "bgnbd"]


def test_an_unknown_reason_is_refused():
    frame = pd.DataFrame({"p_alive": [0.5], "past_value": [1], "days_quiet": [1], "reason": ["weather"]})
    with pytest.raises(ValueError, match="weather"):
        reactivation_potential(frame)


def test_success_by_groups_cases_won_and_revenue():
    frame = pd.DataFrame({"cause": ["price", "price", "product"], "won": [True, False, True],
                          "arr_won_back": [6000.0, 0.0, 12000.0]})
    out = success_by(frame, "cause")
    assert out.loc["price"].tolist() == [2, 1, 0.5, 6000.0]
    assert success_by(frame.iloc[0:0], "cause").empty
