"""Lifecycle stages: the default rules of DESIGN.md on worked examples, non-linear paths, rule sets
refused when malformed, and trajectory counts for the Sankey report."""

import copy
import json

import numpy as np
import pandas as pd
import pytest

from clm.analytics.stages import (
    DEFAULT_STAGE_RULES,
    DEFAULT_STAGE_RULES_DATA,
    STAGES,
    StageRules,
    StageRulesError,
    trajectory_counts,
)

AS_OF = "2024-06-01"
ACTIVE = {  # a contract customer doing fine, 200 days in, nothing trending
    "customer_ever": 1,
    "subscription_history": 1,
    "subscriptions_active": 1,
    "days_since_last_purchase": 30,
    "days_since_last_activity": 1,
    "tenure_days": 200,
    "core_active_days_120d": 50,
    "health_band": "green",
    "health_score": 80,
    "signals_confirmed": 0,
    "active_days_30d_vs_baseline": 0.0,
    "revenue_change_180d": 0.0,
    "expansions_180d": 0,
}
NOTHING = dict.fromkeys(ACTIVE, np.nan)

# name: (metrics, previous stage, previous since, expected stage, rule that decides, changed)
CASES = {
    "lead": ({**NOTHING, "customer_ever": 0}, None, None, "prospect", "no_contract_yet", True),
    "ended": (
        {**ACTIVE, "subscriptions_active": 0},
        "growth",
        "2024-01-01",
        "churned",
        "contract_ended",
        True,
    ),
    "shop_gone_quiet": (
        {
            **ACTIVE,
            "subscription_history": 0,
            "subscriptions_active": 0,
            "days_since_last_purchase": 200,
            "days_since_last_activity": np.nan,
        },
        "growth",
        "2024-01-01",
        "dormant",
        "no_purchase_or_usage",
        True,
    ),
    "shop_still_using": (
        {
            **ACTIVE,
            "subscription_history": 0,
            "subscriptions_active": 0,
            "days_since_last_purchase": 200,
            "days_since_last_activity": 10,
        },
        "growth",
        "2024-01-01",
        "growth",
        "first_year",
        False,
    ),
    "returned": (ACTIVE, "churned", "2023-09-01", "reactivated", "came_back", True),
    "woken": (
        {**ACTIVE, "subscription_history": 0, "days_since_last_purchase": 3},
        "dormant",
        "2023-09-01",
        "reactivated",
        "came_back",
        True,
    ),
    "back_61_days": (ACTIVE, "reactivated", "2024-04-01", "reactivated", "recently_back", False),
    "back_152_days": (ACTIVE, "reactivated", "2024-01-01", "growth", "first_year", True),
    "new": (
        {**ACTIVE, "tenure_days": 30, "core_active_days_120d": 2},
        "prospect",
        "2023-12-01",
        "onboarding",
        "not_yet_activated",
        True,
    ),
    "new_and_activated": (
        {**ACTIVE, "tenure_days": 30, "core_active_days_120d": 6},
        "onboarding",
        "2024-05-02",
        "growth",
        "first_year",
        True,
    ),
    "red": (
        {**ACTIVE, "tenure_days": 800, "health_band": "red"},
        "mature",
        "2023-01-01",
        "at_risk",
        "health_red_or_signal",
        True,
    ),
    "signalled": (
        {**ACTIVE, "signals_confirmed": 2},
        "growth",
        "2024-01-01",
        "at_risk",
        "health_red_or_signal",
        True,
    ),
    "trending_up": (
        {**ACTIVE, "tenure_days": 800, "active_days_30d_vs_baseline": 0.25},
        "mature",
        "2023-01-01",
        "growth",
        "trending_up",
        True,
    ),
    "expanded": (
        {**ACTIVE, "tenure_days": 800, "expansions_180d": 1},
        "mature",
        "2023-01-01",
        "growth",
        "trending_up",
        True,
    ),
    "established": ({**ACTIVE, "tenure_days": 800}, "growth", "2023-01-01", "mature", "established", True),
    "recovered": ({**ACTIVE, "tenure_days": 800}, "at_risk", "2024-03-01", "mature", "established", True),
    # hysteresis: at risk for 31 days only, or back only to 65 (yellow, below the recovery score 70)
    "at_risk_31_days": ({**ACTIVE, "tenure_days": 800}, "at_risk", "2024-05-01", "at_risk", "not_yet_recovered", False),
    "at_risk_at_65": (
        {**ACTIVE, "tenure_days": 800, "health_score": 65, "health_band": "yellow"},
        "at_risk",
        "2024-01-01",
        "at_risk",
        "not_yet_recovered",
        False,
    ),
    "grown_12_days_ago": ({**ACTIVE, "tenure_days": 800}, "growth", "2024-05-20", "growth", "settling_in_growth", False),
    "unknown": (NOTHING, "mature", "2023-01-01", "mature", None, False),
    "never_seen": (NOTHING, None, None, None, None, False),
}


def run(cases, as_of=AS_OF, rules=DEFAULT_STAGE_RULES):
    metrics = pd.DataFrame({name: case[0] for name, case in cases.items()}).T
    metrics = metrics.astype({c: float for c in metrics.columns if c != "health_band"})
    previous = pd.DataFrame(
        {"stage": [c[1] for c in cases.values()], "since": pd.to_datetime([c[2] for c in cases.values()])},
        index=list(cases),
    )
    return rules.evaluate(metrics, previous, as_of)


def test_worked_examples_of_the_default_rules():
    """Each case is worked by hand from DESIGN.md's table: see CASES (the first rule that holds decides)."""
    result = run(CASES)
    for name, (_, previous, _, stage, rule, changed) in CASES.items():
        row = result.loc[name]
        assert (row["previous_stage"], row["stage"], row["rule"], bool(row["changed"])) == (
            previous,
            stage,
            rule,
            changed,
        ), name


def test_the_reason_keeps_the_values_the_deciding_rule_read():
    result = run({k: CASES[k] for k in ("red", "back_61_days", "unknown")})
    assert result.loc["red", "values"] == {"health_band": "red", "signals_confirmed": 0.0}
    assert result.loc["red", "description"] == "health_band = red or signals_confirmed ≥ 1"
    assert result.loc["back_61_days", "values"] == {"previous_stage": "reactivated", "days_in_stage": 61.0}
    assert result.loc["unknown", "values"] == {}
    json.dumps(result["values"].tolist())


def test_since_moves_to_the_as_of_date_only_when_the_stage_changes():
    result = run({k: CASES[k] for k in ("ended", "back_61_days", "lead")})
    assert result["since"].tolist() == [pd.Timestamp(AS_OF), pd.Timestamp("2024-04-01"), pd.Timestamp(AS_OF)]


def test_a_churned_customer_comes_back_then_moves_on_to_growth_after_the_reactivation_period():
    """Non-linear path churned → reactivated → growth, replayed day by day with the stored stage."""
    metrics = pd.DataFrame([ACTIVE], index=["acme"]).astype({c: float for c in ACTIVE if c != "health_band"})
    stage = pd.DataFrame({"stage": ["churned"], "since": pd.to_datetime(["2023-10-01"])}, index=["acme"])
    path = []
    for day in pd.date_range("2024-01-01", "2024-05-01", freq="D"):
        result = DEFAULT_STAGE_RULES.evaluate(metrics, stage, day)
        if result.loc["acme", "changed"]:
            path.append((day.date().isoformat(), result.loc["acme", "stage"]))
        stage = result[["stage", "since"]]
    # reactivated on 2024-01-01; day 90 in the stage (2024-03-31) is the first one not "< 90"
    assert path == [("2024-01-01", "reactivated"), ("2024-03-31", "growth")]


def test_the_reactivation_period_is_a_parameter():
    data = copy.deepcopy(DEFAULT_STAGE_RULES_DATA)
    data["params"]["reactivation_days"] = 200
    result = run({"back_152_days": CASES["back_152_days"]}, rules=StageRules.from_dict(data))
    assert result.loc["back_152_days", "stage"] == "reactivated"


def test_without_previous_stages_every_account_starts_fresh():
    metrics = pd.DataFrame([{**NOTHING, "customer_ever": 0.0}, ACTIVE], index=[1, 2])
    result = DEFAULT_STAGE_RULES.evaluate(metrics)
    assert result["stage"].tolist() == ["prospect", "growth"]
    assert result["changed"].tolist() == [True, True]
    assert result["previous_stage"].tolist() == [None, None]


def test_every_stage_has_a_default_rule_and_the_defaults_round_trip_through_json():
    assert {r.stage for r in DEFAULT_STAGE_RULES.rules} == set(STAGES)
    again = StageRules.from_dict(json.loads(json.dumps(DEFAULT_STAGE_RULES.to_dict())))
    assert again.to_dict() == DEFAULT_STAGE_RULES_DATA


def test_validate_accepts_the_default_metrics_and_the_stage_metrics():
    DEFAULT_STAGE_RULES.validate(DEFAULT_STAGE_RULES.metrics())
    assert "previous_stage" not in DEFAULT_STAGE_RULES.metrics()
    kinds = dict.fromkeys(DEFAULT_STAGE_RULES.metrics(), "number") | {"health_band": "text"}
    DEFAULT_STAGE_RULES.validate(kinds)


def test_validate_names_an_unknown_metric_with_its_place_in_the_rule_set():
    known = [m for m in DEFAULT_STAGE_RULES.metrics() if m != "core_active_days_120d"]
    with pytest.raises(
        StageRulesError, match=r"^rules\[5\]\.when\.all\[1\]\.metric: unknown metric 'core_active_days_120d'"
    ):
        DEFAULT_STAGE_RULES.validate(known)


def with_rules(*rules, params=None):
    return {"params": params or {}, "rules": list(rules)}


GOOD = {"name": "r", "stage": "growth", "when": {"metric": "x", "op": ">", "value": 1}}


@pytest.mark.parametrize(
    "data, message",
    [
        (
            with_rules({**GOOD, "stage": "loyal"}),
            "rules[0].stage: unknown stage 'loyal' (stages: " + ", ".join(STAGES) + ")",
        ),
        (with_rules(GOOD, GOOD), "rules[1].name: two rules are named 'r'"),
        (with_rules({**GOOD, "name": ""}), "rules[0].name: a rule needs a name (it is stored as the reason)"),
        (with_rules({"name": "r", "stage": "growth"}), "rules[0]: a rule needs a 'when' condition"),
        (with_rules({**GOOD, "priority": 1}), "rules[0].priority: unknown key (expected name, stage, when)"),
        (
            with_rules({**GOOD, "when": {"metric": "x", "op": ">", "value": {"param": "n"}}}),
            "rules[0].when.value: unknown parameter 'n' (parameters: none)",
        ),
        (
            with_rules({**GOOD, "when": {"all": [{"metric": "x", "op": "~", "value": 1}]}}),
            "rules[0].when.all[0].op: unknown operator '~' (operators: <, <=, >, >=, ==, !=, in, between, is_null)",
        ),
        (
            with_rules(
                {**GOOD, "when": {"metric": "previous_stage", "op": "in", "value": ["churned", "lost"]}}
            ),
            "rules[0].when.value: unknown stage 'lost' (stages: " + ", ".join(STAGES) + ")",
        ),
        (with_rules(GOOD, params={"days": [90]}), "params.days: a parameter is a number or a text, got [90]"),
        ({"params": {}, "rules": []}, "rules: expected a non-empty list of rules"),
        ({"rules": [GOOD], "order": "first"}, "order: unknown key (expected params, rules)"),
        ([GOOD], "stage rules: expected an object with 'params' and 'rules', got list"),
    ],
)
def test_it_refuses_a_malformed_rule_set_naming_where(data, message):
    with pytest.raises(StageRulesError) as caught:
        StageRules.from_dict(data)
    assert str(caught.value) == message


# -- trajectories -------------------------------------------------------------------------------


def transitions():
    rows = [
        ("a", "2023-11-01", "prospect", "onboarding"),
        ("a", "2024-01-10", "onboarding", "growth"),
        ("a", "2024-03-01", "growth", "at_risk"),
        ("a", "2024-05-01", "at_risk", "churned"),
        ("f", "2023-10-01", "prospect", "onboarding"),  # f walks the same path as a
        ("f", "2024-02-10", "onboarding", "growth"),
        ("f", "2024-03-11", "growth", "at_risk"),
        ("f", "2024-04-01", "at_risk", "churned"),
        ("b", "2023-06-01", "growth", "churned"),
        ("b", "2024-02-01", "churned", "reactivated"),
        ("b", "2024-06-30", "reactivated", "growth"),  # on the last day: inside
        ("c", "2024-01-01", None, "prospect"),  # first stage ever, on the first day: inside
        ("c", "2024-02-01", "prospect", "onboarding"),
        ("d", "2023-03-01", "onboarding", "mature"),  # no change in the period
        ("e", "2024-07-01", "growth", "at_risk"),  # after the period
    ]
    return pd.DataFrame(rows, columns=["account", "date", "from_stage", "to_stage"]).sample(
        frac=1, random_state=3
    )


def test_worked_example_of_trajectory_paths():
    paths = trajectory_counts(transitions(), "2024-01-01", "2024-06-30").paths
    assert paths.to_dict("records") == [
        {"path": "onboarding→growth→at_risk→churned", "accounts": 2},
        {"path": "churned→reactivated→growth", "accounts": 1},
        {"path": "mature", "accounts": 1},
        {"path": "prospect→onboarding", "accounts": 1},
    ]


def test_worked_example_of_trajectory_links_for_a_sankey():
    result = trajectory_counts(transitions(), "2024-01-01", "2024-06-30")
    links = {(r.from_stage, r.to_stage): r.count for r in result.links.itertuples()}
    assert links == {
        ("onboarding", "growth"): 2,
        ("growth", "at_risk"): 2,
        ("at_risk", "churned"): 2,
        ("churned", "reactivated"): 1,
        ("reactivated", "growth"): 1,
        ("prospect", "onboarding"): 1,
    }
    assert result.links["count"].iloc[0] == 2
    steps = {(r.step, r.from_stage, r.to_stage): r.count for r in result.step_links.itertuples()}
    assert steps == {
        (1, "onboarding", "growth"): 2,
        (1, "churned", "reactivated"): 1,
        (1, "prospect", "onboarding"): 1,
        (2, "growth", "at_risk"): 2,
        (2, "reactivated", "growth"): 1,
        (3, "at_risk", "churned"): 2,
    }


def test_accounts_without_a_change_can_be_left_out_of_the_paths():
    paths = trajectory_counts(transitions(), "2024-01-01", "2024-06-30", include_unchanged=False).paths
    assert "mature" not in paths["path"].tolist()
    assert paths["accounts"].sum() == 4


def test_a_period_with_no_transitions_gives_empty_tables():
    result = trajectory_counts(transitions(), "2020-01-01", "2020-12-31")
    assert result.links.empty and result.step_links.empty and result.paths.empty


def test_a_mature_account_red_for_a_few_days_does_not_flap_back_within_weeks():
    """Issue 13 §2: 成熟 → 衰退 → 成熟 within three weeks. A mature account (800 days) goes red on
    2024-01-10 for a week, is yellow (65) until 2024-02-20 and green (80) after. It enters "at
    risk" at once, stays 60 days (to 2024-03-10, the first day not "< 60"), as its health is
    back above 70 by then, and returns to maturity that day: one move each way, none in between."""
    base = {**ACTIVE, "tenure_days": 800}
    stage = pd.DataFrame({"stage": ["mature"], "since": pd.to_datetime(["2023-01-01"])}, index=["acme"])
    path = []
    for day in pd.date_range("2024-01-01", "2024-05-01", freq="D"):
        if pd.Timestamp("2024-01-10") <= day < pd.Timestamp("2024-01-17"):
            today = {**base, "health_band": "red", "health_score": 50}
        elif day < pd.Timestamp("2024-02-20") and day >= pd.Timestamp("2024-01-17"):
            today = {**base, "health_band": "yellow", "health_score": 65}
        else:
            today = base
        metrics = pd.DataFrame([today], index=["acme"]).astype({c: float for c in today if c != "health_band"})
        result = DEFAULT_STAGE_RULES.evaluate(metrics, stage, day)
        if result.loc["acme", "changed"]:
            path.append((day.date().isoformat(), result.loc["acme", "stage"], result.loc["acme", "rule"]))
        stage = result[["stage", "since"]]
    assert path == [("2024-01-10", "at_risk", "health_red_or_signal"), ("2024-03-10", "mature", "established")]


def test_no_default_rule_reads_has_ever_been_a_customer_to_send_an_account_to_growth():
    growth_rules = [r for r in DEFAULT_STAGE_RULES.rules if r.stage == "growth"]
    assert all("customer_ever" not in r.compiled.metrics for r in growth_rules)


def test_time_in_stage_counts_the_stays_that_ended_in_the_period():
    from clm.analytics.stages import stage_durations

    moves = pd.DataFrame(
        [("a", "2024-01-01", "onboarding"), ("a", "2024-03-01", "growth"), ("a", "2024-06-10", "at_risk"),
         ("b", "2024-02-01", "onboarding"), ("b", "2024-06-01", "growth"),
         ("c", "2024-05-01", "onboarding"), ("d", "2024-01-01", "growth"), ("d", "2024-07-15", "mature")],
        columns=["account", "date", "to_stage"],
    )
    table = stage_durations(moves, "2024-06-01", "2024-06-30").set_index("stage")
    # ended in June: b's onboarding (Feb 1 → Jun 1, 121 days) and a's growth (Mar 1 → Jun 10, 101);
    # a's onboarding ended in March (before), d's growth in July (after the period: still ongoing then)
    assert table.loc["onboarding", ["median_days", "stays", "accounts", "ongoing"]].tolist() == [121, 1, 1, 1]
    assert table.loc["growth", ["median_days", "stays", "ongoing"]].tolist() == [101, 1, 2]  # b and d still growing
    assert table.loc["at_risk", "ongoing"] == 1 and pd.isna(table.loc["at_risk", "median_days"])
    assert "mature" not in table.index  # d became mature after the period
    assert stage_durations(moves.iloc[:0], "2024-06-01", "2024-06-30").empty
