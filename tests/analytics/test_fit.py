"""The ICP rules, the lookalike model and the separation metrics, against worked examples."""

import numpy as np
import pandas as pd
import pytest

from clm.analytics import fit


def firms(rows):
    base = {"industry": "", "region": "", "employee_count": None, "annual_revenue": None, "tags": [], "custom": {}}
    return pd.DataFrame([{**base, **row} for row in rows])


MAKERS = {"key": "makers", "rules": [
    {"field": "industry", "op": "in", "value": ["制造业"], "weight": 3},
    {"field": "size_band", "op": "in", "value": ["200-999"], "weight": 2},
    {"field": "region", "op": "in", "value": ["华东"], "weight": 1},
]}


def test_rule_score_is_the_share_of_weights_that_hold():
    # row 0 holds industry (3) and region (1): 100 × 4/6 = 66.7; row 1 all three: 100;
    # row 2 only the size band (2): 33.3; row 3 a missing head count holds nothing of it: 0
    frame = firms([
        {"industry": "制造业", "region": "华东", "employee_count": 80},
        {"industry": "制造业", "region": "华东", "employee_count": 500},
        {"industry": "零售", "region": "华南", "employee_count": 200},
        {"industry": "零售", "region": "华北"},
    ])
    scores = fit.rule_scores(frame, [MAKERS])
    assert scores.scores["makers"].tolist() == [66.7, 100.0, 33.3, 0.0]
    assert scores.held["makers"][0].tolist() == [True, False, True]


def test_best_icp_and_the_other_ops():
    saas = {"key": "saas", "rules": [
        {"field": "annual_revenue", "op": "between", "value": [1e7, None], "weight": 1},
        {"field": "tags", "op": "has_any", "value": ["SaaS"], "weight": 1},
        {"field": "custom.erp", "op": "not_in", "value": ["none"], "weight": 2},
    ]}
    frame = firms([
        {"annual_revenue": 2e7, "tags": ["saas"], "custom": {"erp": "SAP"}},  # 4/4
        {"annual_revenue": 5e6, "tags": [], "custom": {"erp": "none"}, "industry": "制造业"},  # makers 3/6
    ])
    scores = fit.rule_scores(frame, [MAKERS, saas])
    assert scores.best_icp.tolist() == ["saas", "makers"]
    assert scores.best_score.tolist() == [100.0, 50.0]


def test_bad_rules_are_named_by_their_position():
    problems = fit.check_rules([
        {"field": "colour", "op": "in", "value": ["red"], "weight": 1},
        {"field": "industry", "op": "near", "value": ["x"], "weight": 1},
        {"field": "annual_revenue", "op": "between", "value": [1], "weight": 1},
        {"field": "region", "op": "in", "value": ["华东"], "weight": 0},
    ])
    assert problems == [
        (1, "unknown_field", "colour"),
        (2, "unknown_op", "near"),
        (3, "between", "[1]"),
        (4, "weight", "0"),
    ]
    assert fit.check_rules([]) == [(0, "no_rules", "")]


def test_auc_and_top_decile_lift_worked_example():
    # AUC: 3 good × 3 poor = 9 pairs; the good scored .9 and .8 outrank all 3 poor (6), the good
    # scored .6 outranks .5 and .4 (2): 8/9 = 0.889.
    report = fit.separation([1, 1, 0, 1, 0, 0], [0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    assert report["auc"] == pytest.approx(8 / 9, abs=1e-3)
    # Lift: 20 customers, 5 good (rate 0.25); the best-scored tenth (2) are both good: 1.0/0.25 = 4.
    labels = [1, 1, 1, 0, 1, 1] + [0] * 14
    scores = list(range(20, 0, -1))
    assert fit.top_decile_lift(labels, scores) == pytest.approx(4.0)
    # One of the top two good: 0.5/0.25 = 2.
    assert fit.top_decile_lift([1, 0, 1, 1, 1, 1] + [0] * 14, scores) == pytest.approx(2.0)
    assert fit.separation([0, 0], [1, 2])["auc"] is None


def test_good_and_poor_customers_are_labelled_by_clv_tenure_and_churn():
    customers = pd.DataFrame({
        "clv": [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000],
        "tenure_days": [400] * 9 + [100],
        "churned": [False] * 8 + [True, False],
    })
    labels = fit.label_outcomes(customers)
    # bottom 40% by CLV poor, top 40% good unless churned (900) or too new (1000)
    assert labels.tolist() == [0, 0, 0, 0, pd.NA, pd.NA, 1, 1, 0, pd.NA]


def lookalike_world(n=400, seed=1):
    rng = np.random.default_rng(seed)
    industry = rng.choice(["制造业", "零售", "金融"], n)
    region = rng.choice(["华东", "华南"], n)
    employees = rng.integers(10, 3000, n)
    good = (industry == "制造业") | ((region == "华东") & (rng.random(n) < 0.3))
    good = np.where(rng.random(n) < 0.1, ~good, good)  # noise
    frame = firms([{"industry": i, "region": r, "employee_count": int(e), "annual_revenue": float(e) * 1e4}
                   for i, r, e in zip(industry, region, employees, strict=True)])
    frame["customer_since"] = pd.date_range("2022-01-01", periods=n, freq="D")
    return frame, pd.Series(good.astype(int), dtype="Int64")


def test_the_lookalike_learns_who_good_customers_look_like_on_a_time_split():
    frame, labels = lookalike_world()
    model = fit.train_lookalike(frame, labels)
    report = model.report
    assert report["train"]["customers"] == 300 and report["test"]["customers"] == 100
    assert report["train"]["to"] < report["test"]["from"]  # held out: the customers won last
    assert report["model"]["auc"] > 0.75  # 10% of labels flipped: a perfect model would reach about 0.85
    assert report["model"]["lift"] > 1.3
    probe = firms([{"industry": "制造业", "region": "华南", "employee_count": 100},
                   {"industry": "零售", "region": "华南", "employee_count": 100}])
    scores = model.score(probe)
    assert scores[0] > 60 > scores[1]
    reasons = model.reasons(probe)
    assert reasons[0][0]["feature"] == "industry" and reasons[0][0]["value"] == "制造业"
    assert reasons[0][0]["effect"] > 0
    again = fit.Lookalike.loads(model.dumps())
    assert again.score(probe).tolist() == scores.tolist()


def test_too_few_customers_is_said_plainly():
    frame, labels = lookalike_world(30)
    with pytest.raises(fit.NotEnoughCustomers, match="8 of each are needed"):
        fit.train_lookalike(frame, labels)
