"""The health score: a model stored as data, its default from DESIGN.md, scoring with reasons,
missing data, bands and segments."""

import copy
import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clm.analytics.conditions import RuleError
from clm.analytics.health import (
    DEFAULT_MODEL,
    DEFAULT_MODEL_DATA,
    HealthModel,
    HealthModelError,
    score_segments,
    select_models,
    validate_segments,
)

TWO_PART = {
    "name": "two part",
    "components": [
        {"key": "usage", "weight": 60, "metrics": [{"metric": "x", "points": [[0, 0], [10, 100]]}]},
        {"key": "support", "weight": 40, "metrics": [{"metric": "t", "points": [[0, 100], [4, 0]]}]},
    ],
}


def model(**changes):
    data = copy.deepcopy(TWO_PART)
    data.update(changes)
    return HealthModel.from_dict(data)


def frame(**columns):
    return pd.DataFrame(columns, dtype=float)


def refusal(data) -> str:
    with pytest.raises(HealthModelError) as caught:
        HealthModel.from_dict(data)
    return str(caught.value)


# -- the default model --------------------------------------------------------------------------


def test_the_default_model_has_design_md_components_and_weights_summing_to_100():
    keys = [c.key for c in DEFAULT_MODEL.components]
    assert keys == [
        "usage_frequency",
        "core_feature_adoption",
        "breadth",
        "support",
        "sentiment",
        "relationship",
        "commercial",
    ]
    assert sum(c.weight for c in DEFAULT_MODEL.components) == 100
    assert (DEFAULT_MODEL.green, DEFAULT_MODEL.yellow) == (75, 60)


def test_worked_example_of_the_default_model():
    """Worked example, by hand from the default points:
    usage      (−0.5 → 35, −0.5 → 35, 4 days → 40)       = 36.667 × 0.25 = 9.1667
    adoption   (share 0.5 → 60, minutes −0.3 → 40)      = 50     × 0.20 = 10
    breadth    (0.5 seats → 60)                          = 60     × 0.10 = 6
    support    (1 urgent → 70, 0 → 100, 0 → 100)         = 90     × 0.05 = 4.5
    sentiment  (NPS 8 → 75, year's NPS −50 → 20, trend −1 → 50 at half weight,
                CSAT mean 3 → 40, CSAT trend unknown)     = 160/3.5 = 45.714 × 0.15 = 6.8571
    relation.  (1 key person missing → 40 at weight 2, 90 days → 50)
                                                          = 130/3 = 43.333 × 0.20 = 8.6667
    commercial (0 days overdue → 100, intent unknown)    = 100    × 0.05 = 5
    total 50.1905 → 50, red."""
    account = frame(
        active_days_30d_vs_baseline=[-0.5],
        logins_30d_vs_baseline=[-0.5],
        active_days_30d=[4],
        core_feature_share=[0.5],
        core_minutes_30d_vs_baseline=[-0.3],
        seat_utilisation=[0.5],
        high_priority_tickets_30d=[1],
        sla_breaches_90d=[0],
        complaints_90d=[0],
        nps_latest=[8],
        nps_365d=[-50],
        nps_trend=[-1],
        csat_365d=[3],
        csat_trend=[np.nan],
        key_people_missing=[1],
        days_since_csm_interaction=[90],
        overdue_days_max=[0],
        renewal_intent=[np.nan],
    )
    row = DEFAULT_MODEL.score(account).iloc[0]
    assert row["score"] == pytest.approx(50.1905, abs=1e-4)
    assert (row["score_int"], row["band"], row["coverage"], row["missing"]) == (50, "red", 1.0, [])
    assert row["usage_frequency_score"] == pytest.approx(36.6667, abs=1e-4)
    assert row["usage_frequency_contribution"] == pytest.approx(9.16667, abs=1e-4)
    assert row["sentiment_score"] == pytest.approx(160 / 3.5)
    assert row["commercial_score"] == 100
    assert row["relationship_contribution"] == pytest.approx(130 / 3 * 0.2)


HEALTHY_USAGE = dict(
    active_days_30d_vs_baseline=[0.0], logins_30d_vs_baseline=[0.0], active_days_30d=[20],
    core_feature_share=[0.8], core_minutes_30d_vs_baseline=[0.0], seat_utilisation=[0.8],
    high_priority_tickets_30d=[0], sla_breaches_90d=[0], complaints_90d=[0], days_since_csm_interaction=[20],
    overdue_days_max=[0], renewal_intent=[np.nan], csat_365d=[np.nan], csat_trend=[np.nan],
)  # fmt: skip


def test_an_account_whose_key_people_are_gone_and_whose_answers_are_detractors_is_not_healthy():
    """Issue 13 §2: an account using the product as usual, whose decision maker and champion
    have both left (long ago, not in the last 90 days) and whose NPS answers are six detractors
    and one promoter in a year (NPS = (1 − 6)/7 = −71.4), falling, is watched, not green."""
    happy = DEFAULT_MODEL.score(frame(
        **HEALTHY_USAGE, nps_latest=[9], nps_365d=[60], nps_trend=[0.5], key_people_missing=[0],
    )).iloc[0]  # fmt: skip
    troubled = DEFAULT_MODEL.score(frame(
        **HEALTHY_USAGE, nps_latest=[3], nps_365d=[100 * (1 - 6) / 7], nps_trend=[-3], key_people_missing=[2],
    )).iloc[0]  # fmt: skip
    assert happy["band"] == "green"
    assert troubled["relationship_score"] == pytest.approx((0 * 2 + 100) / 3)
    assert troubled["band"] != "green" and happy["score"] - troubled["score"] > 15


def test_a_component_without_data_lowers_the_coverage_instead_of_scoring_100():
    """No key person on record and no survey answer: relationship reads the CSM's last contact
    only, sentiment has nothing and is left out; coverage says what share of the weight had data."""
    row = DEFAULT_MODEL.score(frame(
        **HEALTHY_USAGE, nps_latest=[np.nan], nps_365d=[np.nan], nps_trend=[np.nan], key_people_missing=[np.nan],
    )).iloc[0]  # fmt: skip
    assert row["missing"] == ["sentiment"]
    assert row["coverage"] == pytest.approx(0.85)
    assert np.isnan(row["sentiment_score"]) and row["relationship_score"] == 100


def test_the_default_model_reads_metrics_that_it_declares():
    assert set(DEFAULT_MODEL.metrics()) == {
        m["metric"] for c in DEFAULT_MODEL_DATA["components"] for m in c["metrics"]
    }
    DEFAULT_MODEL.validate(DEFAULT_MODEL.metrics())


# -- scoring ------------------------------------------------------------------------------------


def test_worked_example_two_components():
    """x = 5 on [0→0, 10→100] scores 50; t = 1 on [0→100, 4→0] scores 75;
    0.6 × 50 + 0.4 × 75 = 30 + 30 = 60: yellow (60–74)."""
    result = model().score(frame(x=[5], t=[1]))
    assert result[["score", "score_int", "band", "usage_contribution", "support_contribution"]].iloc[
        0
    ].tolist() == [60.0, 60, "yellow", 30.0, 30.0]


def test_points_are_joined_by_straight_lines_and_flat_beyond_the_ends():
    m = HealthModel.from_dict(
        {
            "name": "m",
            "components": [
                {
                    "key": "a",
                    "weight": 100,
                    "metrics": [{"metric": "x", "points": [[0, 20], [10, 40], [20, 100]]}],
                }
            ],
        }
    )
    scores = m.score(frame(x=[-5, 0, 5, 10, 15, 20, 99]))["a_score"].tolist()
    assert scores == [20, 20, 30, 40, 70, 100, 100]


def test_metric_weights_inside_a_component_are_relative():
    data = copy.deepcopy(TWO_PART)
    data["components"][0]["metrics"].append({"metric": "y", "points": [[0, 0], [1, 100]], "weight": 3})
    m = HealthModel.from_dict(data)
    # x 10 → 100 (weight 1), y 0 → 0 (weight 3): (100 + 0) / 4 = 25
    assert m.score(frame(x=[10], y=[0], t=[0]))["usage_score"].iloc[0] == 25


def test_a_missing_metric_is_left_out_of_its_component():
    data = copy.deepcopy(TWO_PART)
    data["components"][0]["metrics"].append({"metric": "y", "points": [[0, 0], [1, 100]]})
    result = HealthModel.from_dict(data).score(frame(x=[8], y=[np.nan], t=[0]))
    assert result["usage_score"].iloc[0] == 80
    assert result["missing"].iloc[0] == []


def test_a_component_without_data_is_left_out_and_the_others_scaled_up_to_100():
    """Support unknown: usage (60%) carries the whole score; coverage 0.6."""
    row = model().score(frame(x=[5], t=[np.nan])).iloc[0]
    assert row["score"] == 50
    assert row["usage_contribution"] == 50 and row["support_contribution"] == 0
    assert row["coverage"] == pytest.approx(0.6)
    assert row["missing"] == ["support"]
    assert math.isnan(row["support_score"])


def test_below_the_minimum_coverage_there_is_no_score():
    result = model(min_coverage=0.7).score(frame(x=[5, 5], t=[np.nan, 1]))
    first = result.iloc[0]
    assert math.isnan(first["score"]) and first["score_int"] is pd.NA and first["band"] is None
    assert math.isnan(first["usage_contribution"])
    assert first["usage_score"] == 50  # the component is still shown
    assert result.iloc[1]["band"] == "yellow"


@pytest.mark.parametrize(
    "x, expected_int, expected_band",
    [
        (7.45, 75, "green"),
        (7.449, 74, "yellow"),
        (5.95, 60, "yellow"),
        (5.949, 59, "red"),
        (10, 100, "green"),
        (0, 0, "red"),
    ],
)
def test_the_band_is_read_from_the_whole_number_shown(x, expected_int, expected_band):
    one = HealthModel.from_dict(
        {
            "name": "m",
            "components": [
                {"key": "a", "weight": 100, "metrics": [{"metric": "x", "points": [[0, 0], [10, 100]]}]}
            ],
        }
    )
    row = one.score(frame(x=[x])).iloc[0]
    assert (row["score_int"], row["band"]) == (expected_int, expected_band)


def test_band_thresholds_are_configurable():
    # scores 0.6×100 + 0.4×50 = 80, 0.6×100 + 0.4×75 = 90, 0.6×50 + 0.4×97.5 = 69
    accounts = frame(x=[10, 10, 5], t=[2, 1, 0.1])
    assert model().score(accounts)["score"].tolist() == pytest.approx([80, 90, 69])
    assert model().score(accounts)["band"].tolist() == ["green", "green", "yellow"]
    assert model(bands={"green": 90, "yellow": 70}).score(accounts)["band"].tolist() == [
        "yellow",
        "green",
        "red",
    ]


def test_the_score_keeps_the_account_index():
    result = model().score(pd.DataFrame({"x": [1.0, 2.0], "t": [0.0, 0.0]}, index=[101, 205]))
    assert result.index.tolist() == [101, 205]


def test_explain_gives_each_component_and_metric_as_json():
    explained = model().explain(frame(x=[5], t=[np.nan])).iloc[0]
    assert explained == [
        {
            "key": "usage",
            "label": "Usage",
            "weight": 60.0,
            "score": 50.0,
            "contribution": 50.0,
            "metrics": [{"metric": "x", "value": 5.0, "score": 50.0}],
        },
        {
            "key": "support",
            "label": "Support",
            "weight": 40.0,
            "score": None,
            "contribution": 0.0,
            "metrics": [{"metric": "t", "value": None, "score": None}],
        },
    ]
    json.dumps(explained)


def test_text_in_a_scored_metric_is_refused_by_name():
    with pytest.raises(HealthModelError, match="metric 'x' holds non-numeric values"):
        model().score(pd.DataFrame({"x": ["high"], "t": [0.0]}))


def test_a_metric_absent_from_the_data_is_named():
    with pytest.raises(HealthModelError, match="metric 't' is not in the data"):
        model().score(frame(x=[1]))


# -- refused when saved -------------------------------------------------------------------------


def with_change(path_setter):
    data = copy.deepcopy(TWO_PART)
    path_setter(data)
    return data


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda d: d["components"][1].update(weight=30),
            "components: component weights are percentages and must sum to 100; they sum to 90 (usage 60, support 30)",
        ),
        (
            lambda d: d["components"][1].update(weight=-40),
            "components[1].weight: a weight cannot be negative, got -40",
        ),
        (
            lambda d: d["components"][1].update(weight="40"),
            "components[1].weight: expected a number, got '40'",
        ),
        (
            lambda d: d["components"][1].update(key="usage"),
            "components[1].key: component 'usage' appears twice",
        ),
        (
            lambda d: d["components"][1].update(key="Support!"),
            "components[1].key: a key is lower-case letters, digits and _, got 'Support!'",
        ),
        (
            lambda d: d["components"][0]["metrics"][0].update(points=[[0, 0], [10, 100], [10, 90]]),
            "components[0].metrics[0].points[2][0]: values must strictly increase: 10 follows 10",
        ),
        (
            lambda d: d["components"][0]["metrics"][0].update(points=[[0, 0], [10, 120]]),
            "components[0].metrics[0].points[1][1]: a score is from 0 to 100, got 120",
        ),
        (
            lambda d: d["components"][0]["metrics"][0].update(points=[[0, 0]]),
            "components[0].metrics[0].points: expected at least two [value, score] points",
        ),
        (
            lambda d: d["components"][0]["metrics"][0].update(points=[[0, 0], [1, 2, 3]]),
            "components[0].metrics[0].points[1]: expected [value, score], got [1, 2, 3]",
        ),
        (
            lambda d: d["components"][0]["metrics"][0].update(weight=0),
            "components[0].metrics[0].weight: a metric's weight inside its component is positive, got 0",
        ),
        (
            lambda d: d["components"][0].update(metrics=[]),
            "components[0].metrics: a component scores a non-empty list of metrics",
        ),
        (
            lambda d: d["components"][0].update(wieght=1),
            "components[0].wieght: unknown key (expected key, label, metrics, weight)",
        ),
        (lambda d: d.update(components=[]), "components: a model needs a non-empty list of components"),
        (lambda d: d.update(name=""), "name: a model needs a name"),
        (
            lambda d: d.update(bands={"green": 60, "yellow": 75}),
            "bands: yellow (75) must be below green (60)",
        ),
        (
            lambda d: d.update(bands={"green": 175, "yellow": 60}),
            "bands.green: a band threshold is a score from 0 to 100, got 175",
        ),
        (
            lambda d: d.update(min_coverage=0),
            "min_coverage: a share of the weight, above 0 and at most 1, got 0",
        ),
        (
            lambda d: d.update(segment={"metric": "plan", "op": "like", "value": "pro"}),
            "segment.op: unknown operator 'like' (operators: <, <=, >, >=, ==, !=, in, between, is_null)",
        ),
    ],
)
def test_it_refuses_a_malformed_model_naming_where(change, message):
    assert refusal(with_change(change)) == message


def test_weights_within_a_hundredth_of_100_are_accepted():
    m = HealthModel.from_dict(with_change(lambda d: d["components"][1].update(weight=40.005)))
    assert m.components[1].weight == 40.005


def test_a_health_model_error_is_a_rule_error_and_a_value_error():
    assert issubclass(HealthModelError, RuleError) and issubclass(HealthModelError, ValueError)


def test_validate_names_an_unknown_metric_with_its_place_in_the_model():
    with pytest.raises(
        HealthModelError, match=r"^components\[1\]\.metrics\[0\]\.metric: unknown metric 't' \(known: x\)$"
    ):
        model().validate(["x"])


def test_validate_refuses_scoring_a_text_metric():
    with pytest.raises(
        HealthModelError,
        match=r"^components\[0\]\.metrics\[0\]\.metric: 'x' is a text metric; a health model scores numbers$",
    ):
        model().validate({"x": "text", "t": "number"})
    model().validate({"x": "number", "t": "flag"})


def test_a_model_that_is_not_an_object_is_refused():
    assert refusal(["components"]) == "model: expected an object, got list"


def test_validate_checks_the_segment_metrics_too():
    segmented = model(segment={"all": [{"metric": "plan", "op": "==", "value": "pro"}]})
    segmented.validate(["x", "t", "plan"])
    with pytest.raises(HealthModelError, match=r"^segment\.all\[0\]\.metric: unknown metric 'plan'"):
        segmented.validate(["x", "t"])


def test_a_model_round_trips_through_json():
    for m in (
        DEFAULT_MODEL,
        model(segment={"metric": "plan", "op": "in", "value": ["pro"]}, bands={"green": 80, "yellow": 50}),
    ):
        again = HealthModel.from_dict(json.loads(json.dumps(m.to_dict())))
        assert again == m


# -- segments -----------------------------------------------------------------------------------


def segments():
    enterprise = model(name="enterprise", segment={"metric": "plan", "op": "==", "value": "enterprise"})
    big = HealthModel.from_dict(
        {
            "name": "big",
            "segment": {"metric": "seats", "op": ">=", "value": 100},
            "components": [
                {"key": "usage", "weight": 100, "metrics": [{"metric": "x", "points": [[0, 0], [20, 100]]}]}
            ],
        }
    )
    return [enterprise, big, model(name="default")]


def accounts():
    return pd.DataFrame(
        {
            "plan": ["enterprise", "pro", "pro", "enterprise"],
            "seats": [500.0, 500.0, 5.0, np.nan],
            "x": [10.0] * 4,
            "t": [0.0] * 4,
        },
        index=["a", "b", "c", "d"],
    )


def test_each_account_takes_the_first_model_whose_segment_matches_and_the_default_otherwise():
    assert select_models(accounts(), segments()).to_dict() == {
        "a": "enterprise",
        "b": "big",
        "c": "default",
        "d": "enterprise",
    }


def test_score_segments_scores_each_account_with_its_models_and_says_which():
    result = score_segments(accounts(), segments())
    assert result.index.tolist() == ["a", "b", "c", "d"]
    assert result["model"].tolist() == ["enterprise", "big", "default", "enterprise"]
    # x = 10 scores 100 on the two-part models, 50 on "big" (0→0, 20→100)
    assert result["score"].tolist() == [100.0, 50.0, 100.0, 100.0]
    assert math.isnan(result.loc["b", "support_score"])


@pytest.mark.parametrize(
    "models, message",
    [
        (
            lambda s: s[:2],
            "exactly one model has no segment (the default), and it comes last; found the default at position(s) none of 2",
        ),
        (
            lambda s: [s[2], s[0]],
            "exactly one model has no segment (the default), and it comes last; found the default at position(s) [0] of 2",
        ),
        (lambda s: [s[0], s[0], s[2]], "models[1].name: two models are named 'enterprise'"),
        (lambda s: [], "models: at least one health model (the default) is needed"),
    ],
)
def test_segment_lists_need_unique_names_and_one_default_last(models, message):
    with pytest.raises(HealthModelError) as caught:
        validate_segments(models(segments()))
    assert str(caught.value).endswith(message)


def test_validate_segments_checks_every_models_metrics():
    with pytest.raises(HealthModelError, match=r"^models\[0\]\.segment\.metric: unknown metric 'plan'"):
        validate_segments(segments(), ["x", "t", "seats"])


# -- properties ---------------------------------------------------------------------------------

METRIC_VALUE = st.one_of(st.just(math.nan), st.floats(-2, 400, allow_nan=False))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.lists(METRIC_VALUE, min_size=len(DEFAULT_MODEL.metrics()), max_size=len(DEFAULT_MODEL.metrics())),
        min_size=1,
        max_size=5,
    )
)
def test_scores_lie_in_0_to_100_and_contributions_add_up_to_the_score(rows):
    metrics = pd.DataFrame(rows, columns=DEFAULT_MODEL.metrics())
    result = DEFAULT_MODEL.score(metrics)
    contributions = result[[f"{c.key}_contribution" for c in DEFAULT_MODEL.components]]
    for (_, row), total in zip(result.iterrows(), contributions.sum(axis=1, min_count=1), strict=True):
        assert 0 <= row["coverage"] <= 1
        if row["coverage"] >= DEFAULT_MODEL.min_coverage:
            assert 0 <= row["score"] <= 100
            assert total == pytest.approx(row["score"], abs=1e-9)
        else:
            assert math.isnan(row["score"]) and row["band"] is None


RANK = {"red": 0, "yellow": 1, "green": 2}


@settings(max_examples=200, deadline=None)
@given(st.floats(0, 10), st.floats(0, 10))
def test_bands_never_get_worse_as_the_score_rises(x1, x2):
    low, high = sorted((x1, x2))
    one = HealthModel.from_dict(
        {
            "name": "m",
            "components": [
                {"key": "a", "weight": 100, "metrics": [{"metric": "x", "points": [[0, 0], [10, 100]]}]}
            ],
        }
    )
    result = one.score(frame(x=[low, high]))
    assert RANK[result["band"].iloc[0]] <= RANK[result["band"].iloc[1]]
    assert result["score"].iloc[0] <= result["score"].iloc[1]


@settings(max_examples=100, deadline=None)
@given(st.floats(0, 1), st.floats(0, 1), st.floats(0, 30))
def test_more_seats_in_use_never_lowers_the_default_score(u1, u2, active_days):
    low, high = sorted((u1, u2))
    metrics = pd.DataFrame(
        {
            "seat_utilisation": [low, high],
            "active_days_30d": [active_days] * 2,
            "core_feature_share": [0.5] * 2,
        }
    )
    for name in DEFAULT_MODEL.metrics():
        if name not in metrics:
            metrics[name] = np.nan
    scores = DEFAULT_MODEL.score(metrics)["score"]
    assert scores.iloc[0] <= scores.iloc[1] + 1e-9


# -- calibration --------------------------------------------------------------------------------


def test_calibration_reads_churn_per_band_and_the_scores_auc():
    """Six account-dates, by hand. Bands at 75/60: green 90, 80 (no churn, 0/2); yellow 70, 65
    (1/2); red 50, 40 (2/2). The AUC is the Mann–Whitney probability that a churner scores below a
    stayer (Hanley & McNeil 1982, Radiology 143:29–36): churners 70, 50, 40 against stayers 90,
    80, 65 win 2 + 3 + 3 of 9 pairs = 0.889. A date without a score is left out."""
    from clm.analytics.health import calibrate

    result = calibrate([90, 80, 70, 65, 50, 40, np.nan], [0, 0, 1, 0, 1, 1, 1])
    assert (result.rows, result.churned) == (6, 3)
    assert result.roc_auc == pytest.approx(8 / 9)
    assert [(b.band, b.rows, b.churned, b.churn_rate) for b in result.bands] == [
        ("red", 2, 2, 1.0), ("yellow", 2, 1, 0.5), ("green", 2, 0, 0.0),
    ]  # fmt: skip
    assert result.ordered and result.to_dict()["thresholds"] == {"green": 75.0, "yellow": 60.0}


def test_calibration_says_when_the_bands_do_not_sort_churn():
    """The one churner scored 90 (green), above every stayer: green churns most, AUC 0."""
    from clm.analytics.health import calibrate

    result = calibrate([90, 85, 50, 40], [1, 0, 0, 0])
    assert not result.ordered and result.roc_auc == 0.0
    assert [b.churn_rate for b in result.bands] == [0.0, None, 0.5]
