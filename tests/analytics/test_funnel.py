"""Engagement with decay, stage entry criteria and the funnel's rates, against hand computations."""

import numpy as np
import pandas as pd
import pytest

from clm.analytics import funnel

POINTS = {"email_open": 2, "email_click": 5, "form": 15}


def test_engagement_halves_every_half_life():
    as_of = pd.Timestamp("2026-03-31T12:00Z")
    activities = pd.DataFrame({
        "lead_id": [1, 1, 1, 2, 2],
        "kind": ["form", "email_click", "email_open", "web", "form"],
        "at": [as_of - pd.Timedelta(days=30), as_of, as_of - pd.Timedelta(days=60),
               as_of - pd.Timedelta(days=1), as_of + pd.Timedelta(days=1)],
    })
    table = funnel.engagement(activities, POINTS, 30, as_of)
    # lead 1: form 15 × ½ = 7.5, click 5 × 1 = 5, open 2 × ¼ = 0.5 → 13.0
    assert table.loc[1, "score"] == pytest.approx(13.0)
    assert table.loc[1, "form"] == pytest.approx(7.5)
    # lead 2: web has no points, the form after as_of does not count
    assert table.loc[2, "score"] == 0


def test_engagement_is_capped_at_100():
    as_of = pd.Timestamp("2026-03-31T00:00Z")
    activities = pd.DataFrame({"lead_id": [7] * 10, "kind": ["form"] * 10, "at": [as_of] * 10})
    assert funnel.engagement(activities, POINTS, 30, as_of).loc[7, "score"] == 100


CRITERIA = {"mql": {"min_fit": 40, "min_engagement": 15},
            "sql": {"min_fit": 50, "min_engagement": 35, "actions": ["demo_requested"]}}


def test_leads_move_as_far_as_consecutive_criteria_hold():
    out = funnel.reached(
        ["mal", "mal", "mal", "mql", "sql", "mal"],
        [60, 60, 30, 90, 10, np.nan],
        [40, 40, 90, 50, 0, 90],
        [set(), {"demo_requested"}, {"demo_requested"}, {"demo_requested"}, set(), set()],
        CRITERIA,
    )
    assert out.tolist() == ["mql", "sql", "mal", "sql", "sql", "mal"]


def hand_made_world():
    """Ten leads: 10 MAL, 6 MQL, 4 SQL, 2 opportunities, 1 customer; web and events channels."""
    day = pd.Timestamp("2026-01-01")
    rows = []
    for i in range(10):
        mql = day + pd.Timedelta(days=2 * i) if i < 6 else pd.NaT
        sql = mql + pd.Timedelta(days=10) if i < 4 else pd.NaT
        opp = sql + pd.Timedelta(days=4) if i < 2 else pd.NaT
        won = opp + pd.Timedelta(days=30) if i < 1 else pd.NaT
        rows.append({"channel": "web" if i % 2 == 0 else "events", "mal_at": day, "mql_at": mql, "sql_at": sql,
                     "opportunity_at": opp, "customer_at": won})
    return pd.DataFrame(rows)


def test_funnel_rates_and_median_days_in_a_hand_made_world():
    table = funnel.funnel(hand_made_world()).set_index("stage")
    assert table["reached"].tolist() == [10, 6, 4, 2, 1]
    assert table["rate"].tolist() == [1.0, 0.6, pytest.approx(4 / 6, abs=1e-4), 0.5, 0.5]
    assert table.loc["customer", "overall"] == 0.1
    # MAL→MQL days: 0, 2, 4, 6, 8, 10 → median 5; MQL→SQL 10 each; SQL→opp 4; opp→won 30
    assert table["median_days"].tolist() == [None, 5.0, 10.0, 4.0, 30.0]


def test_funnel_by_channel():
    table = funnel.funnel(hand_made_world(), by="channel")
    web = table[table["group"] == "web"].set_index("stage")
    # web: leads 0, 2, 4, 6, 8 → MQL 0, 2, 4 → SQL 0, 2 → opp 0 → won 0
    assert web["reached"].tolist() == [5, 3, 2, 1, 1]
    events = table[table["group"] == "events"].set_index("stage")
    assert events["reached"].tolist() == [5, 3, 2, 1, 0]
    assert events.loc["customer", "rate"] == 0.0


def test_cac_per_converted_customer():
    spend = pd.DataFrame({"channel": ["web", "web", "events"], "amount": [3000.0, 1500.0, 8000.0]})
    won = pd.DataFrame({"channel": ["web", "web", "web"]})
    table = funnel.cac_per_customer(spend, won).set_index("channel")
    assert table.loc["web", "cac"] == 1500.0  # 4500 / 3
    assert table.loc["events", "cac"] is None  # spend, no customer: undefined, not infinite


def test_a_skipped_stage_counts_as_passed_on_the_next_date():
    day = pd.Timestamp("2026-01-01")
    leads = pd.DataFrame([{"mal_at": day, "mql_at": pd.NaT, "sql_at": day + pd.Timedelta(days=6),
                           "opportunity_at": pd.NaT, "customer_at": day + pd.Timedelta(days=20)}])
    table = funnel.funnel(leads).set_index("stage")
    assert table["reached"].tolist() == [1, 1, 1, 1, 1]
    assert table["median_days"].tolist() == [None, 6.0, 0.0, 14.0, 0.0]
