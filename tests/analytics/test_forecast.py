"""The forecast of a period against a hand-made world. Source of the roll-up: Salesforce Help,
"Forecast Categories" (Closed, Commit, Best Case, Pipeline, Omitted; the Best Case roll-up
includes Closed and Commit, Omitted counts in none); weighted pipeline = amount × stage
probability, as on the pipeline board."""

import datetime as dt

import pandas as pd
import pytest

from clm.analytics import forecast

Q1 = (dt.date(2027, 1, 1), dt.date(2027, 3, 31))
DEALS = pd.DataFrame(
    [
        # id, owner, team, state, call, amount, probability, closes
        (1, 1, 10, "won", "pipeline", 2500, 100, dt.date(2027, 1, 15)),
        (2, 1, 10, "open", "commit", 4000, 75, dt.date(2027, 3, 31)),
        (3, 1, 10, "open", "best_case", 10000, 50, dt.date(2027, 2, 1)),
        (4, 1, 10, "open", "commit", 7000, 50, dt.date(2027, 4, 2)),  # closes in Q2
        (5, 2, 10, "open", "pipeline", 20000, 10, dt.date(2027, 2, 10)),
        (6, 2, 10, "open", "omitted", 8000, 25, dt.date(2027, 3, 1)),
        (7, 2, 10, "lost", "commit", 9000, 0, dt.date(2027, 2, 1)),  # lost: in no figure
        (8, 2, 10, "won", "commit", 1000, 100, dt.date(2026, 12, 20)),  # won last quarter
        (9, 3, 20, "open", "commit", 6000, 75, dt.date(2027, 1, 20)),
        (10, 3, 20, "open", "commit", 5000, 75, None),  # no close date: in no period
    ],
    columns=["opportunity_id", "owner", "team", "state", "category", "amount", "probability", "closes"],
)


def figures(row):
    keys = ("deals", "won", "commit", "best_case", "pipeline", "omitted", "weighted", "expected", "upside")
    return tuple(row[k] for k in keys)


def test_each_deal_of_the_period_counts_under_its_call_or_as_won():
    classified = forecast.classify(DEALS, *Q1)
    assert dict(zip(classified["opportunity_id"], classified["measure"], strict=True)) == {
        1: "won", 2: "commit", 3: "best_case", 5: "pipeline", 6: "omitted", 9: "commit",
    }  # fmt: skip
    # 4,000 × 75% + 10,000 × 50% + 20,000 × 10% + 6,000 × 75%; won and omitted deals weigh nothing
    assert classified.set_index("opportunity_id")["weighted"].to_dict() == {
        1: 0, 2: 3000, 3: 5000, 5: 2000, 6: 0, 9: 4500,
    }  # fmt: skip


def test_the_roll_up_in_all_per_owner_and_per_team():
    classified = forecast.classify(DEALS, *Q1)
    total = forecast.rollup(classified).iloc[0]
    # won 2,500; commit 4,000 + 6,000; expected = won + commit; upside adds best case 10,000
    assert figures(total) == (6, 2500, 10000, 10000, 20000, 8000, 14500, 12500, 22500)
    owners = forecast.rollup(classified, "owner").set_index("group")
    assert figures(owners.loc[1]) == (3, 2500, 4000, 10000, 0, 0, 8000, 6500, 16500)
    assert figures(owners.loc[2]) == (2, 0, 0, 0, 20000, 8000, 2000, 0, 0)
    assert figures(owners.loc[3]) == (1, 0, 6000, 0, 0, 0, 4500, 6000, 6000)
    teams = forecast.rollup(classified, "team").set_index("group")
    assert figures(teams.loc[10]) == (5, 2500, 4000, 10000, 20000, 8000, 10000, 6500, 16500)
    assert figures(teams.loc[20]) == figures(owners.loc[3])


def test_the_gap_to_the_target_of_new_arr():
    total = forecast.rollup(forecast.classify(DEALS, *Q1)).iloc[0].to_dict()
    gap = forecast.gap(total, 30000)
    # 30,000 − (2,500 + 10,000) and 30,000 − 22,500; 2,500 of 30,000 won so far
    assert (gap["to_expected"], gap["to_upside"]) == (17500, 7500)
    assert gap["attainment"] == pytest.approx(2500 / 30000)
    assert forecast.gap(total, 10000)["to_expected"] == 0  # reached: no gap, not a negative one


def test_a_period_without_deals_is_all_zero():
    empty = forecast.classify(DEALS, dt.date(2030, 1, 1), dt.date(2030, 3, 31))
    assert figures(forecast.rollup(empty).iloc[0]) == (0, 0, 0, 0, 0, 0, 0, 0, 0)
    assert forecast.rollup(empty, "owner").empty
