"""The rule engine: rules as data, refused with their path when malformed, evaluated over a frame
of per-account metrics with SQL's three-valued logic for missing values."""

import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clm.analytics.conditions import (
    OPERATORS,
    RuleError,
    bind,
    compile_rule,
    describe,
    json_records,
    metrics_of,
    validate,
)

KNOWN = {"active_days_30d": "number", "nps_latest": "number", "plan": "text", "champion_left": "flag"}


def leaf(metric, op, value=None):
    node = {"metric": metric, "op": op}
    if value is not None:
        node["value"] = value
    return node


def fires(rule, **columns):
    frame = pd.DataFrame(columns)
    return compile_rule(rule).matches(frame).tolist()


def refusal(rule, known=KNOWN) -> str:
    with pytest.raises(RuleError) as caught:
        validate(rule, known)
    return str(caught.value)


def test_the_analytics_core_imports_without_django():
    """The pure core must not import Django (DESIGN.md): checked in a fresh interpreter."""
    modules = ["conditions", "health", "stages", "warning", "churn", "evaluation"]
    code = "; ".join(
        [f"import clm.analytics.{m}" for m in modules]
        + [
            "import sys",
            "loaded = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'))",
            "print(loaded)",
        ]
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# -- refused when saved ------------------------------------------------------------------------


def test_it_names_an_unknown_metric_with_its_path_and_the_known_metrics():
    rule = {"all": [leaf("active_days_30d", "<", 4), leaf("logins_7d", "<", 1)]}
    assert refusal(rule) == (
        "all[1].metric: unknown metric 'logins_7d' (known: active_days_30d, champion_left, nps_latest, plan)"
    )


def test_the_path_reaches_into_nested_groups():
    rule = {
        "any": [
            leaf("nps_latest", "<", 7),
            {"not": {"all": [leaf("plan", "==", "pro"), leaf("seats", ">", 1)]}},
        ]
    }
    assert refusal(rule).startswith("any[1].not.all[1].metric: unknown metric 'seats'")


def test_it_rejects_an_unknown_operator():
    assert refusal(leaf("nps_latest", "gt", 7)) == (
        "op: unknown operator 'gt' (operators: <, <=, >, >=, ==, !=, in, between, is_null)"
    )


@pytest.mark.parametrize(
    "rule, message",
    [
        (leaf("nps_latest", "<", "7"), "value: '<' compares with a number, got a text '7'"),
        (leaf("nps_latest", ">=", True), "value: '>=' compares with a number, got true/false True"),
        (leaf("nps_latest", "<", [7]), "value: '<' compares with a number, got a list"),
        (leaf("nps_latest", "<", math.nan), "value: '<' compares with a number, got float nan"),
        (leaf("nps_latest", "<", math.inf), "value: '<' compares with a number, got float inf"),
        (leaf("nps_latest", "<"), "rule: '<' needs a value"),
        (
            leaf("nps_latest", "==", [1]),
            "value: '==' compares with a number, a text or true/false, got a list",
        ),
        (leaf("nps_latest", "in", []), "value: 'in' takes a non-empty list, got a list"),
        (leaf("nps_latest", "in", 7), "value: 'in' takes a non-empty list, got int 7"),
        (
            leaf("plan", "in", ["pro", 1]),
            "value: 'in' takes a list of numbers or a list of texts, not a mixture",
        ),
        (leaf("nps_latest", "between", [1]), "value: 'between' takes [low, high] (two numbers), got a list"),
        (
            leaf("nps_latest", "between", ["a", "b"]),
            "value: 'between' takes [low, high] (two numbers), got a list",
        ),
        (
            leaf("nps_latest", "between", [9, 7]),
            "value: 'between' takes [low, high] with low ≤ high, got [9, 7]",
        ),
        (leaf("nps_latest", "is_null", "yes"), "value: 'is_null' takes true or false, got a text 'yes'"),
    ],
)
def test_it_rejects_a_value_of_the_wrong_type_for_its_operator(rule, message):
    assert refusal(rule) == message


@pytest.mark.parametrize(
    "rule, message",
    [
        (leaf("plan", "<", 3), "op: '<' does not apply to text metric 'plan' (use ==, !=, in, is_null)"),
        (leaf("plan", "==", 3), "value: 'plan' is a text metric: compare it with a text, got int 3"),
        (leaf("plan", "in", [1, 2]), "value: 'plan' is a text metric: list texts"),
        (
            leaf("nps_latest", "==", "high"),
            "value: 'nps_latest' is a number metric: compare it with a number, got a text 'high'",
        ),
        (leaf("nps_latest", "in", ["a"]), "value: 'nps_latest' is a number metric: list numbers"),
        (
            leaf("champion_left", "==", 1),
            "value: 'champion_left' is a flag metric: compare it with true or false, got int 1",
        ),
        (
            leaf("champion_left", ">", 0),
            "op: '>' does not apply to flag metric 'champion_left' (use ==, !=, is_null)",
        ),
    ],
)
def test_with_metric_kinds_it_rejects_operators_and_values_that_do_not_fit_the_metric(rule, message):
    assert refusal(rule) == message


def test_without_metric_kinds_only_the_rule_itself_is_checked():
    validate(leaf("anything", "==", "x"))
    validate(leaf("anything", "==", "x"), ["anything"])


@pytest.mark.parametrize(
    "rule, message",
    [
        (
            [leaf("nps_latest", "<", 7)],
            "rule: expected a condition (an object with 'all', 'any', 'not' or 'metric'), got a list",
        ),
        ({"all": []}, "all: expected a non-empty list of conditions, got a list"),
        ({"any": leaf("nps_latest", "<", 7)}, "any: expected a non-empty list of conditions, got an object"),
        (
            {"all": [leaf("nps_latest", "<", 7)], "any": []},
            "rule: a 'all' group has no other keys (found any)",
        ),
        (
            {"not": [leaf("nps_latest", "<", 7)]},
            "not: expected a condition (an object with 'all', 'any', 'not' or 'metric'), got a list",
        ),
        (
            {"op": "<", "value": 7},
            "rule: expected 'all', 'any', 'not' or a 'metric' condition, found op, value",
        ),
        ({}, "rule: expected 'all', 'any', 'not' or a 'metric' condition, found nothing"),
        (
            {"metric": "nps_latest", "op": "<", "vaule": 7},
            "vaule: unknown key (a condition has metric, op and value)",
        ),
        ({"metric": "", "op": "<", "value": 7}, "metric: expected a metric name, got a text ''"),
        (
            {"all": ["nps_latest < 7"]},
            "all[0]: expected a condition (an object with 'all', 'any', 'not' or 'metric'), got a text",
        ),
        (
            leaf("nps_latest", "<", {"param": "low"}),
            "value: parameter 'low' has no value (bind the rule's parameters first)",
        ),
    ],
)
def test_it_rejects_malformed_rules_naming_where(rule, message):
    assert refusal(rule) == message


@pytest.mark.parametrize(
    "rule",
    [
        leaf("nps_latest", "<", 7),
        leaf("nps_latest", "<=", 6.5),
        leaf("nps_latest", "==", 10),
        leaf("plan", "!=", "free"),
        leaf("plan", "in", ["pro", "enterprise"]),
        leaf("nps_latest", "in", [0, 1, 2]),
        leaf("nps_latest", "between", [0, 6]),
        leaf("nps_latest", "is_null"),
        leaf("plan", "is_null", False),
        leaf("champion_left", "==", True),
        {
            "all": [
                leaf("nps_latest", "<", 7),
                {"any": [leaf("plan", "==", "pro"), {"not": leaf("champion_left", "==", False)}]},
            ]
        },
    ],
)
def test_it_accepts_well_formed_rules(rule):
    validate(rule, KNOWN)


def test_metric_kinds_must_be_known_kinds():
    with pytest.raises(ValueError, match="kinds are number, text, flag"):
        validate(leaf("x", "<", 1), {"x": "integer"})


def test_a_rule_error_is_a_value_error_with_its_path_and_reason():
    with pytest.raises(ValueError) as caught:
        validate({"all": [leaf("x", "<", "a")]})
    assert (caught.value.path, caught.value.reason) == (
        "all[0].value",
        "'<' compares with a number, got a text 'a'",
    )
    assert (
        str(caught.value.within("signals[2].when"))
        == "signals[2].when.all[0].value: '<' compares with a number, got a text 'a'"
    )


# -- each operator -----------------------------------------------------------------------------

X = [1.0, 2.0, 3.0, math.nan]


@pytest.mark.parametrize(
    "op, value, expected",
    [
        ("<", 2, [True, False, False, False]),
        ("<=", 2, [True, True, False, False]),
        (">", 2, [False, False, True, False]),
        (">=", 2, [False, True, True, False]),
        ("==", 2, [False, True, False, False]),
        ("!=", 2, [True, False, True, False]),  # a missing value is not "different": it is unknown
        ("in", [1, 3], [True, False, True, False]),
        ("between", [2, 3], [False, True, True, False]),  # both ends included
        ("is_null", True, [False, False, False, True]),
        ("is_null", False, [True, True, True, False]),
    ],
)
def test_each_operator_on_numbers(op, value, expected):
    assert fires(leaf("x", op, value), x=X) == expected


@pytest.mark.parametrize(
    "op, value, expected",
    [
        ("==", "pro", [True, False, False]),
        ("!=", "pro", [False, True, False]),
        ("in", ["pro", "basic"], [True, True, False]),
        ("is_null", True, [False, False, True]),
    ],
)
def test_each_operator_on_texts(op, value, expected):
    assert fires(leaf("plan", op, value), plan=["pro", "basic", None]) == expected


def test_flags_compare_with_true_and_false_and_may_be_missing():
    flags = pd.array([True, False, None], dtype="boolean")
    assert fires(leaf("left", "==", True), left=flags) == [True, False, False]
    assert fires(leaf("left", "!=", True), left=flags) == [False, True, False]
    assert fires(leaf("left", "==", False), left=[True, False, True]) == [False, True, False]


def test_nullable_integer_columns_compare_as_numbers():
    assert fires(leaf("n", ">=", 2), n=pd.array([1, 2, None], dtype="Int64")) == [False, True, False]


def test_numbers_stored_as_text_are_read_as_numbers():
    assert fires(leaf("n", ">", 1), n=["0.5", "2", None]) == [False, True, False]


# -- missing values: three-valued logic --------------------------------------------------------


def test_not_of_a_missing_value_does_not_fire():
    """Without an NPS the account is not known to be "not a detractor": unknown, so no fire."""
    assert fires({"not": leaf("nps", "<", 7)}, nps=[5.0, 9.0, math.nan]) == [False, True, False]


def test_any_fires_when_one_part_is_true_even_if_another_is_unknown():
    rule = {"any": [leaf("a", "<", 0), leaf("b", "<", 0)]}
    assert fires(rule, a=[-1.0, math.nan, 1.0], b=[math.nan, -1.0, math.nan]) == [True, True, False]


def test_all_is_false_when_one_part_is_false_and_unknown_when_one_is_unknown():
    rule = {"all": [leaf("a", "<", 0), leaf("b", "<", 0)]}
    assert fires(rule, a=[-1.0, 1.0, -1.0], b=[math.nan, math.nan, -1.0]) == [False, False, True]
    # so negating it fires where it is known false, and not where it is unknown
    assert fires({"not": rule}, a=[-1.0, 1.0, -1.0], b=[math.nan, math.nan, -1.0]) == [False, True, False]


# -- evaluating ---------------------------------------------------------------------------------


def test_it_keeps_the_frame_index_and_handles_an_empty_frame():
    rule = compile_rule(leaf("x", ">", 1))
    frame = pd.DataFrame({"x": [0.0, 5.0]}, index=["acme", "globex"])
    assert rule.matches(frame).to_dict() == {"acme": False, "globex": True}
    empty = rule.matches(pd.DataFrame({"x": pd.Series(dtype=float)}))
    assert empty.dtype == bool and empty.empty


def test_a_metric_missing_from_the_data_is_named():
    rule = compile_rule({"all": [leaf("x", ">", 1), leaf("y", ">", 1)]})
    with pytest.raises(RuleError, match=r"^all\[1\]\.metric: metric 'y' is not in the data$"):
        rule.evaluate(pd.DataFrame({"x": [1.0]}))


def test_text_where_a_number_is_needed_is_named_with_an_example():
    rule = compile_rule(leaf("plan", "<", 1))
    with pytest.raises(
        RuleError, match=r"^metric: metric 'plan' holds non-numeric values \(e.g. 'pro'\); '<' needs numbers$"
    ):
        rule.evaluate(pd.DataFrame({"plan": ["pro"]}))


def test_worked_example_explanation_lists_each_condition_with_what_it_saw():
    """Worked example: logins halved (−0.6 ≤ −0.5 holds) and NPS 9 (not < 7); acme fires through
    the first branch. Globex has no login baseline (unknown) and NPS 3 (< 7 holds): it fires
    through the second."""
    rule = compile_rule({"any": [leaf("logins_vs_baseline", "<=", -0.5), leaf("nps", "<", 7)]})
    frame = pd.DataFrame({"logins_vs_baseline": [-0.6, np.nan], "nps": [9, 3]}, index=["acme", "globex"])
    evaluation = rule.evaluate(frame)
    assert evaluation.matched.tolist() == [True, True]
    assert evaluation.explain().to_dict() == {
        "acme": [
            {
                "path": "any[0]",
                "metric": "logins_vs_baseline",
                "op": "<=",
                "value": -0.5,
                "seen": -0.6,
                "held": True,
            },
            {"path": "any[1]", "metric": "nps", "op": "<", "value": 7, "seen": 9, "held": False},
        ],
        "globex": [
            {
                "path": "any[0]",
                "metric": "logins_vs_baseline",
                "op": "<=",
                "value": -0.5,
                "seen": None,
                "held": None,
            },
            {"path": "any[1]", "metric": "nps", "op": "<", "value": 7, "seen": 3, "held": True},
        ],
    }
    assert evaluation.seen(["globex"]).to_dict() == {"globex": {"logins_vs_baseline": None, "nps": 3}}
    assert type(evaluation.seen().loc["acme"]["nps"]) is int  # numpy scalars become plain JSON numbers


def test_a_single_condition_is_explained_under_the_path_rule():
    evaluation = compile_rule(leaf("x", "is_null")).evaluate(pd.DataFrame({"x": [np.nan]}))
    assert evaluation.explain().iloc[0] == [
        {"path": "rule", "metric": "x", "op": "is_null", "value": True, "seen": None, "held": True}
    ]


def test_json_records_turn_missing_values_into_none():
    frame = pd.DataFrame({"a": [np.int64(3), None], "b": ["x", pd.NA]}, index=[10, 11])
    assert json_records(frame, ["a", "b"]).to_dict() == {10: {"a": 3.0, "b": "x"}, 11: {"a": None, "b": None}}


# -- parameters and introspection ---------------------------------------------------------------


def test_bind_fills_in_parameters_anywhere_a_value_goes_without_touching_the_original():
    rule = {
        "all": [leaf("x", "<=", {"param": "drop"}), {"not": leaf("y", "between", [0, {"param": "days"}])}]
    }
    bound = bind(rule, {"drop": -0.5, "days": 90})
    assert bound == {"all": [leaf("x", "<=", -0.5), {"not": leaf("y", "between", [0, 90])}]}
    assert rule["all"][0]["value"] == {"param": "drop"}


def test_bind_names_an_unknown_parameter_and_the_known_ones():
    with pytest.raises(
        RuleError, match=r"^any\[0\]\.value: unknown parameter 'dorp' \(parameters: days, drop\)$"
    ):
        bind({"any": [leaf("x", "<", {"param": "dorp"})]}, {"drop": 1, "days": 2})


def test_metrics_of_lists_each_metric_once_in_order_of_appearance():
    rule = {"all": [leaf("b", "<", 1), {"any": [leaf("a", "<", 1), {"not": leaf("b", ">", 5)}]}]}
    assert metrics_of(rule) == ["b", "a"]


def test_describe_reads_as_a_sentence():
    rule = {
        "all": [leaf("x", "<=", -0.5), {"any": [leaf("plan", "in", ["pro", "team"]), leaf("nps", "is_null")]}]
    }
    assert describe(rule) == "x ≤ -0.5 and (plan in pro, team or nps is missing)"
    assert describe({"not": leaf("y", "between", [1, 2])}) == "not (y between 1 and 2)"


# -- property: the vectorised engine agrees with a row-by-row reading --------------------------

VALUES = st.one_of(st.none(), st.integers(-3, 3).map(float))
NUMERIC_OPS = [op for op in OPERATORS if op not in ("is_null",)]


def leaves():
    def build(metric, op, a, b):
        if op == "in":
            return leaf(metric, op, sorted({a, b}))
        if op == "between":
            return leaf(metric, op, [min(a, b), max(a, b)])
        return leaf(metric, op, a)

    comparisons = st.builds(
        build,
        st.sampled_from(["a", "b"]),
        st.sampled_from(NUMERIC_OPS),
        st.integers(-3, 3),
        st.integers(-3, 3),
    )
    nulls = st.builds(lambda m, v: leaf(m, "is_null", v), st.sampled_from(["a", "b"]), st.booleans())
    return st.one_of(comparisons, nulls)


RULES = st.recursive(
    leaves(),
    lambda children: st.one_of(
        st.lists(children, min_size=1, max_size=3).map(lambda xs: {"all": xs}),
        st.lists(children, min_size=1, max_size=3).map(lambda xs: {"any": xs}),
        children.map(lambda x: {"not": x}),
    ),
    max_leaves=6,
)


def by_hand(node, row):
    """Kleene logic, one row at a time: True, False or None (unknown)."""
    if "not" in node:
        inner = by_hand(node["not"], row)
        return None if inner is None else not inner
    if "all" in node or "any" in node:
        parts = [by_hand(child, row) for child in node.get("all", node.get("any"))]
        if "all" in node:
            return False if False in parts else (None if None in parts else True)
        return True if True in parts else (None if None in parts else False)
    x, op, v = row[node["metric"]], node["op"], node.get("value", True)
    if op == "is_null":
        return (x is None) == v
    if x is None:
        return None
    return {
        "<": lambda: x < v,
        "<=": lambda: x <= v,
        ">": lambda: x > v,
        ">=": lambda: x >= v,
        "==": lambda: x == v,
        "!=": lambda: x != v,
        "in": lambda: x in v,
        "between": lambda: v[0] <= x <= v[1],
    }[op]()


@settings(max_examples=200, deadline=None)
@given(RULES, st.lists(st.tuples(VALUES, VALUES), min_size=1, max_size=8))
def test_vectorised_evaluation_agrees_with_reading_each_row_by_hand(rule, rows):
    frame = pd.DataFrame(rows, columns=["a", "b"], dtype=float)
    expected = [by_hand(rule, {"a": a, "b": b}) is True for a, b in rows]
    assert compile_rule(rule).matches(frame).tolist() == expected
