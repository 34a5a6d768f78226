"""The one evaluation of risk scores and flags: worked examples for every figure it reports,
lead times of the early warning, and cross-validation that keeps groups apart."""

import json
import math

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from clm.analytics.evaluation import (
    choose_threshold,
    churn_scope,
    cross_validate_model,
    evaluate,
    first_flags,
    flag_curve,
    interval,
    lead_time_metrics,
)

# The four-row example of scikit-learn's roc_auc_score documentation.
Y = [0, 0, 1, 1]
S = [0.1, 0.4, 0.35, 0.8]


def test_worked_example_of_the_score_report():
    """By hand: of the 4 (positive, negative) pairs, 3 are ordered right: AUC 0.75.
    Average precision: ranked 0.8 (hit, P=1, R=½), 0.4 (miss), 0.35 (hit, P=⅔, R=1) → ½·1 + ½·⅔ = 0.8333.
    Brier: (0.1² + 0.4² + 0.65² + 0.2²) / 4 = 0.6325 / 4 = 0.158125.
    At threshold 0.38: flagged 0.4 and 0.8, one of them churned: precision ½, recall ½."""
    report = evaluate(Y, S, threshold=0.38)
    assert report.roc_auc == pytest.approx(0.75)
    assert report.pr_auc == pytest.approx(5 / 6)
    assert report.brier == pytest.approx(0.158125)
    assert (report.n, report.positives, report.base_rate) == (4, 2, 0.5)
    assert (report.flagged, report.precision, report.recall) == (2, 0.5, 0.5)


def test_worked_example_of_the_calibration_table():
    """Two bins by score: {0.1, 0.35} with outcomes {0, 1} and {0.4, 0.8} with {0, 1}."""
    table = evaluate(Y, S, bins=2).calibration
    assert [(b.bin, b.count, b.low, b.high) for b in table] == [(1, 2, 0.1, 0.35), (2, 2, 0.4, 0.8)]
    assert [b.mean_predicted for b in table] == pytest.approx([0.225, 0.6])
    assert [b.observed_rate for b in table] == [0.5, 0.5]


def test_the_calibration_table_has_deciles_of_equal_size_by_default():
    rng = np.random.default_rng(1)
    scores = rng.random(1000)
    table = evaluate(rng.random(1000) < scores, scores).calibration
    assert [b.count for b in table] == [100] * 10
    assert all(a.high <= b.low for a, b in zip(table, table[1:], strict=False))
    # outcomes drawn with the scores as probabilities: each decile's rate is near its mean score
    assert all(abs(b.mean_predicted - b.observed_rate) < 0.15 for b in table)


def test_with_one_class_the_aucs_are_undefined_not_an_error():
    report = evaluate([0, 0, 0], [0.1, 0.2, 0.3])
    assert report.roc_auc is None and report.pr_auc is None and report.recall is None
    assert report.brier == pytest.approx((0.01 + 0.04 + 0.09) / 3)


def test_scores_that_are_not_probabilities_have_no_brier_score():
    report = evaluate(Y, [-2.0, 1.0, 0.5, 3.0], threshold=1.0)
    assert report.brier is None
    assert report.roc_auc == pytest.approx(0.75)
    assert report.precision == 0.5  # 1.0 and 3.0 flagged; 3.0 churned


def test_nothing_flagged_has_no_precision():
    assert evaluate(Y, S, threshold=0.9).precision is None


def test_the_report_is_json_ready():
    json.dumps(evaluate(Y, S).to_dict())


@pytest.mark.parametrize(
    "y, scores, message",
    [
        ([0, 2], [0.1, 0.2], "y_true must hold 0/1"),
        ([0, None], [0.1, 0.2], "y_true must hold 0/1"),
        (["no", "yes"], [0.1, 0.2], "y_true must hold 0/1"),
        ([0, 1], [0.1], "scores has 1 values for 2 outcomes"),
        ([0, 1], [0.1, math.nan], "scores holds 1 missing values"),
    ],
)
def test_bad_inputs_are_refused_with_the_reason(y, scores, message):
    with pytest.raises(ValueError, match=message):
        evaluate(y, scores)


def test_true_and_false_outcomes_are_accepted():
    assert evaluate([False, False, True, True], S).roc_auc == pytest.approx(0.75)


# -- lead time ----------------------------------------------------------------------------------


def lead_time_example():
    """A: flagged 121 days before churning; B: 60 days before; C: churned unflagged; D: flagged,
    never churned, horizon over; E: flagged recently, horizon not over yet; F: flagged after it churned."""
    first_flag = pd.Series(
        pd.to_datetime(["2024-03-01", "2024-05-01", None, "2024-01-01", "2024-06-01", "2024-04-01"]),
        index=list("ABCDEF"),
    )
    churn = pd.Series(
        pd.to_datetime(["2024-06-30", "2024-06-30", "2024-06-30", None, None, "2024-03-01"]),
        index=list("ABCDEF"),
    )
    return first_flag, churn


def test_worked_example_of_lead_time_metrics():
    """Churners A, B, C, F: only A was flagged ≥ 90 days ahead → recall 1/4.
    Flags (F's came after churning, so it is no flag): A, B, D, E. A and B churned within 180 days;
    D's 180 days ended 2024-06-29 (judged, wrong); E's run past 2024-07-31 (not judged) → precision 2/3.
    Lead times 121 and 60 days: mean 90.5, 10th percentile 60 + 0.1 × 61 = 66.1."""
    first_flag, churn = lead_time_example()
    report = lead_time_metrics(
        first_flag, churn, min_lead_days=90, horizon_days=180, observed_until="2024-07-31"
    )
    assert (report.churners, report.churners_flagged_before, report.churners_flagged_in_time) == (4, 2, 1)
    assert report.recall_in_time == 0.25
    assert (report.flagged, report.flags_judged, report.flags_followed_by_churn) == (4, 3, 2)
    assert report.precision == pytest.approx(2 / 3)
    assert report.lead_days["mean"] == 90.5 and report.lead_days["p50"] == 90.5
    assert report.lead_days["p10"] == pytest.approx(66.1)


def test_recall_and_precision_carry_95_percent_wilson_intervals():
    """The worked example's recall 1/4 and precision 2/3 with their Wilson score intervals
    (E. B. Wilson, JASA 22 (1927) 209–212). The interval matches R. G. Newcombe, Two-sided
    confidence intervals for the single proportion, Statistics in Medicine 17 (1998) 857–872,
    Table I: 0/20 → 0–0.1611, 1/29 → 0.0061–0.1718, 15/148 → 0.0624–0.1605."""
    report = lead_time_metrics(*lead_time_example(), min_lead_days=90, horizon_days=180, observed_until="2024-07-31")
    assert report.recall_in_time_ci == [0.0456, 0.6994]
    assert report.precision_ci == [0.2077, 0.9385]
    assert (interval(0, 20), interval(1, 29), interval(15, 148)) == ([0.0, 0.1611], [0.0061, 0.1718], [0.0624, 0.1605])
    assert interval(0, 0) is None
    empty = lead_time_metrics(pd.Series(pd.to_datetime([None]), index=["A"]), pd.Series(pd.to_datetime([None]), index=["A"]))
    assert empty.recall_in_time_ci is None and empty.precision_ci is None


def test_a_flag_exactly_90_days_ahead_is_in_time_and_89_days_is_not():
    first_flag = pd.Series(pd.to_datetime(["2024-04-01", "2024-04-02"]), index=["on_time", "a_day_late"])
    churn = pd.Series(pd.to_datetime(["2024-06-30", "2024-06-30"]), index=["on_time", "a_day_late"])
    report = lead_time_metrics(first_flag, churn, min_lead_days=90)
    assert (report.churners_flagged_in_time, report.recall_in_time) == (1, 0.5)
    assert report.lead_days["mean"] == 89.5


def test_without_an_observation_end_every_flag_is_judged():
    report = lead_time_metrics(*lead_time_example(), horizon_days=180)
    assert (report.flags_judged, report.precision) == (4, 0.5)


def test_a_shorter_horizon_counts_late_churns_as_wrong_flags():
    report = lead_time_metrics(*lead_time_example(), horizon_days=100)
    assert report.flags_followed_by_churn == 1  # A churned 121 days after its flag


def test_evaluate_adds_the_lead_time_analysis_when_given_the_dates():
    first_flag, churn = lead_time_example()
    report = evaluate(Y, S, first_flag=first_flag, churn_date=churn, min_lead_days=90, horizon_days=180)
    assert report.lead_time.recall_in_time == 0.25
    json.dumps(report.to_dict())
    with pytest.raises(ValueError, match="needs both first_flag and churn_date"):
        evaluate(Y, S, first_flag=first_flag)


def test_no_churners_and_no_flags_give_no_rates():
    report = lead_time_metrics(
        pd.Series(pd.to_datetime([None]), index=["A"]), pd.Series(pd.to_datetime([None]), index=["A"])
    )
    assert report.recall_in_time is None and report.precision is None and report.lead_days == {}


def test_lead_time_dates_must_be_indexed_by_account():
    with pytest.raises(ValueError, match="first_flag must be a pandas Series indexed by account"):
        lead_time_metrics(["2024-01-01"], pd.Series(pd.to_datetime(["2024-02-01"])))


# -- cross-validation ---------------------------------------------------------------------------


def separable(n=200, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.3
    X = pd.DataFrame({"signal": y * 2.0 + rng.normal(0, 1, n), "group": np.arange(n) // 4})
    return X, y.astype(int)


def test_cross_validation_reports_each_fold_and_their_mean():
    X, y = separable()
    result = cross_validate_model(lambda: LogisticRegression(), X[["signal"]], y, folds=5, seed=0)
    assert len(result.fold_auc) == len(result.folds) == 5
    assert result.mean_auc == pytest.approx(np.mean(result.fold_auc))
    assert result.mean_auc > 0.8  # the signal is two standard deviations strong
    assert result.pooled.n == len(y) and sum(f.n for f in result.folds) == len(y)
    # each fold keeps the churn share (stratified): positives differ by at most one between folds
    positives = [f.positives for f in result.folds]
    assert max(positives) - min(positives) <= 1


def test_cross_validation_is_reproducible_with_a_seed():
    X, y = separable()
    first = cross_validate_model(lambda: LogisticRegression(), X[["signal"]], y, seed=7)
    again = cross_validate_model(lambda: LogisticRegression(), X[["signal"]], y, seed=7)
    assert first.fold_auc == again.fold_auc


class RemembersGroups:
    """A real (if simple) classifier that records which groups it trained on and checks that it
    is never asked to score one of them."""

    def fit(self, X, y):
        self.seen = set(X["group"])
        self.model = LogisticRegression().fit(X[["signal"]], y)
        return self

    def predict_proba(self, X):
        assert not self.seen & set(X["group"]), "a group was split across folds"
        return self.model.predict_proba(X[["signal"]])


def test_with_groups_no_group_is_split_across_folds():
    X, y = separable()
    result = cross_validate_model(RemembersGroups, X, y, folds=5, seed=0, groups=X["group"])
    assert len(result.fold_auc) == 5
    with pytest.raises(AssertionError, match="a group was split"):
        cross_validate_model(RemembersGroups, X, y, folds=5, seed=0)


def test_point_in_time_flag_precision_worked_example():
    # Account a is flagged on three days and churns 100 days after the first: all three right.
    # Account b is flagged twice and never churns: wrong once its 180 days have passed; the
    # second flag's horizon runs past the observed end, so it cannot be judged yet.
    # Account c is flagged the day after it churned: not a flag.
    from clm.analytics.evaluation import flag_precision

    flags = pd.DataFrame(
        {
            "account": ["a", "a", "a", "b", "b", "c"],
            "date": ["2024-01-01", "2024-01-08", "2024-01-15", "2024-01-01", "2024-06-01", "2024-03-02"],
        }
    )
    churn = pd.Series(pd.to_datetime(["2024-04-10", pd.NaT, "2024-03-01"]), index=["a", "b", "c"])
    result = flag_precision(flags, churn, horizon_days=180, observed_until="2024-09-01")
    assert (result.flag_days, result.judged, result.followed_by_churn) == (5, 4, 3)
    assert result.precision == 0.75


# -- flagging on a risk score and choosing its threshold ----------------------------------------


def risk_example():
    """Weekly risks of three accounts from 2024-01-01. A churns 2024-06-01, B 2025-06-01 (long after
    anything here), C never."""
    dates = pd.date_range("2024-01-01", periods=5, freq="7D")
    risks = {"A": [0.2, 0.6, 0.7, 0.8, 0.9], "B": [0.5, 0.1, 0.5, 0.5, 0.1], "C": [0.1, 0.3, 0.1, 0.3, 0.1]}
    scores = pd.DataFrame(
        [
            {"account": a, "as_of": d, "score": r}
            for a, rs in risks.items()
            for d, r in zip(dates, rs, strict=True)
        ]
    )
    churn = pd.Series(pd.to_datetime(["2024-06-01", "2025-06-01"]), index=["A", "B"])
    return scores, churn


def test_worked_example_of_first_flags_with_a_confirmation_window():
    """At 0.5 and no wait: A first on 01-08, B on 01-01. Held 7 days (two weeks in a row): A on
    01-15; B's runs (01-01; 01-15 – 01-22) confirm on 01-22. At 0.3, held 7 days: C never holds."""
    scores, _ = risk_example()
    assert first_flags(scores, 0.5).to_dict() == {
        "A": pd.Timestamp("2024-01-08"),
        "B": pd.Timestamp("2024-01-01"),
    }
    held = first_flags(scores, 0.5, confirm_days=7)
    assert held.to_dict() == {"A": pd.Timestamp("2024-01-15"), "B": pd.Timestamp("2024-01-22")}
    assert "C" not in first_flags(scores, 0.3, confirm_days=7).index


def test_worked_example_of_the_flag_curve_and_the_threshold_chosen_for_a_target_precision():
    """Horizon 180 days, 90 ahead, everything observed. At 0.3 (no wait): A (01-08, 145 days before
    its churn), B (01-01, 517 days: wrong), C (01-08, never churns: wrong): precision 1/3, recall 1.
    At 0.5: A and B: precision 1/2, recall 1. At 0.7: A alone (01-15, 138 days ahead): precision 1,
    recall 1/2 (B is never flagged). For a target of 0.5 the best recall is at 0.5; for 0.9, at 0.7."""
    scores, churn = risk_example()
    curve = flag_curve(scores, churn, thresholds=[0.3, 0.5, 0.7, 0.95], observed_until="2026-01-01")
    assert [(p.threshold, p.precision, p.recall_in_time, p.flagged) for p in curve] == [
        (0.3, 1 / 3, 1.0, 3),
        (0.5, 0.5, 1.0, 2),
        (0.7, 1.0, 0.5, 1),
        (0.95, None, 0.0, 0),
    ]
    choice = choose_threshold(curve, 0.5)
    assert (choice.threshold, choice.precision, choice.recall_in_time) == (0.5, 0.5, 1.0)
    assert choose_threshold(curve, 0.9).threshold == 0.7
    assert (
        choose_threshold(curve[:1], 0.9).threshold is None
    )  # no threshold reaches it: the model does not flag
    json.dumps(choice.to_dict())
    with pytest.raises(ValueError, match="target precision is a share between 0 and 1"):
        choose_threshold(curve, 1.5)


def test_the_default_thresholds_span_the_scores_upper_half_and_a_fixed_grid():
    scores, churn = risk_example()
    thresholds = [p.threshold for p in flag_curve(scores, churn)]
    assert thresholds == sorted(thresholds) and 0.02 in thresholds and 0.98 in thresholds
    assert np.median(scores["score"]) in thresholds


def test_churn_scope_keeps_the_churns_a_replay_can_judge():
    """Replay 2024-01-01 – 03-31, 90 days ahead, observed until 2024-12-31: churns from 03-31 to
    06-29 are in scope; one on 2024-02-01 (too soon to be flagged in time) is out, and judged on
    neither side; one before the replay is no churn of it."""
    churn = pd.Series(
        pd.to_datetime(["2024-04-15", "2024-02-01", "2023-12-01", "2024-06-29"]), index=list("ABCD")
    )
    in_scope, out = churn_scope(
        churn, "2024-01-01", "2024-03-31", min_lead_days=90, observed_until="2024-12-31"
    )
    assert sorted(in_scope.index) == ["A", "D"] and out == {"B"}
