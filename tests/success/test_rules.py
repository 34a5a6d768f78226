"""The plan status rule and objective progress, on worked examples computed by hand."""

import datetime as dt

import pandas as pd
import pytest

from clm.success import rules
from clm.success.rules import Goal, Milestone

D = dt.date
TODAY = D(2026, 6, 30)
START, END = D(2026, 1, 1), D(2026, 12, 31)  # 364 days; by 30 June 180 days are gone: 49.5%


def test_progress_runs_from_baseline_to_target_and_counts_a_fall_when_the_target_is_lower():
    assert rules.progress(20, 50, 35) == pytest.approx(0.5)  # (35 − 20) / (50 − 20)
    assert rules.progress(20, 50, 80) == 1.0 and rules.progress(20, 50, 10) == 0.0
    assert rules.progress(3.0, 0.5, 1.0) == pytest.approx(0.8)  # 漏检率 3% → 0.5%, now 1%: 2 / 2.5
    assert rules.progress(20, 50, None) is None


def test_a_plan_with_nothing_overdue_and_objectives_keeping_pace_is_on_track():
    status, facts = rules.plan_status(TODAY, START, END, [Milestone(D(2026, 7, 15), None)], [Goal(0, 100, 40)])
    # 40% done against 49.5% of the time gone: 9.5 points behind, within the 25-point allowance
    assert status == "on_track"
    assert facts["progress"] == 0.4 and facts["time_elapsed"] == pytest.approx(180 / 364, abs=1e-4)


def test_an_overdue_milestone_makes_the_plan_behind_and_more_than_30_days_overdue_stuck():
    late = [Milestone(D(2026, 6, 10), None), Milestone(D(2026, 3, 1), D(2026, 3, 2))]
    status, facts = rules.plan_status(TODAY, START, END, late, [])
    assert (status, facts["overdue"], facts["most_overdue_days"], facts["rule"]) == (
        "behind", 1, 20, "milestone_overdue")
    stuck, facts = rules.plan_status(TODAY, START, END, [Milestone(D(2026, 5, 30), None)], [])
    assert (stuck, facts["most_overdue_days"], facts["rule"]) == ("stuck", 31, "milestone_overdue_long")
    edge, _ = rules.plan_status(TODAY, START, END, [Milestone(D(2026, 5, 31), None)], [])
    assert edge == "behind"  # exactly 30 days late is still behind


def test_objectives_trailing_the_time_gone_by_more_than_25_points_make_the_plan_behind():
    # mean progress (0.1 + 0.3) / 2 = 0.2; time gone 0.495: 29.5 points behind
    status, facts = rules.plan_status(TODAY, START, END, [], [Goal(0, 10, 1), Goal(0, 10, 3)])
    assert (status, facts["rule"], facts["progress"]) == ("behind", "progress_trails_time", 0.2)
    # without an end date there is no pace to keep
    assert rules.plan_status(TODAY, START, None, [], [Goal(0, 10, 1)])[0] == "on_track"


def test_usage_reaches_a_count_on_the_day_the_running_sum_crosses_it():
    usage = pd.DataFrame({"account_id": [1, 1, 1, 2], "key": ["a", "a", "a", "a"],
                          "day": [D(2026, 1, 1), D(2026, 1, 3), D(2026, 1, 4), D(2026, 1, 9)],
                          "amount": [5, 2, 4, 1]})
    steps = pd.DataFrame({"step_id": [10, 11, 12], "account_id": [1, 1, 2], "key": ["a", "a", "a"],
                          "start": [D(2026, 1, 2), D(2026, 1, 1), D(2026, 1, 1)], "count": [5, 20, 1]})
    # step 10 counts from 2 Jan: 2 (3 Jan), then 6 on 4 Jan ≥ 5; step 11 never reaches 20
    assert rules.first_reached(usage, steps).to_dict() == {10: D(2026, 1, 4), 12: D(2026, 1, 9)}
    one_day = rules.reached_on_one_day(usage, steps.assign(count=[4, 5, 2]))
    assert one_day.to_dict() == {10: D(2026, 1, 4), 11: D(2026, 1, 1)}
