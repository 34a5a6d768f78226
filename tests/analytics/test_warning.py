"""Early-warning signals: the defaults of DESIGN.md at their thresholds, what each stores, signal
sets refused when malformed, and the reconciliation that keeps one open signal per kind."""

import copy
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clm.analytics.warning import (
    DEFAULT_SIGNALS,
    DEFAULT_SIGNALS_DATA,
    SignalError,
    SignalSet,
    confirmed_counts,
    firing_counts,
    flags,
    reconcile,
    warning_levels,
    without_churn_warning_when_dormant,
)

QUIET = {
    "logins_30d_vs_baseline": 0.0,
    "logins_baseline_30d": 20.0,
    "core_minutes_30d_vs_baseline": 0.0,
    "core_minutes_baseline_30d": 600.0,
    "key_contacts_left_90d": 0.0,
    "tickets_30d": 1.0,
    "tickets_30d_vs_baseline": 0.0,
    "complaints_90d": 0.0,
    "overdue_days_max": 0.0,
    "days_to_renewal": 200.0,
    "days_since_customer_reply": 5.0,
    "health_band": "green",
    "churn_risk_over_threshold": np.nan,  # no churn model: the rules stand alone
}

# name: (changes to a quiet account, the kinds that fire) — thresholds from DEFAULT_SIGNALS_DATA
CASES = {
    "quiet": ({}, []),
    "logins_halved": ({"logins_30d_vs_baseline": -0.5}, ["login_drop"]),
    "logins_down_49pc": ({"logins_30d_vs_baseline": -0.49}, []),
    "logins_down_from_little": ({"logins_30d_vs_baseline": -0.9, "logins_baseline_30d": 3.0}, []),
    "core_time_down_30pc": ({"core_minutes_30d_vs_baseline": -0.3}, ["core_usage_falling"]),
    "usage_down": (
        {"logins_30d_vs_baseline": -0.15, "core_minutes_30d_vs_baseline": -0.3},
        ["core_usage_falling", "usage_decline"],
    ),
    "usage_down_less": (
        {"logins_30d_vs_baseline": -0.14, "core_minutes_30d_vs_baseline": -0.3},
        ["core_usage_falling"],
    ),
    "core_time_down_from_little": (
        {"core_minutes_30d_vs_baseline": -0.5, "core_minutes_baseline_30d": 30.0},
        [],
    ),
    "champion_left": ({"key_contacts_left_90d": 1.0}, ["key_contact_left"]),
    "tickets_doubled": ({"tickets_30d": 3.0, "tickets_30d_vs_baseline": 1.0}, ["tickets_rising"]),
    "tickets_tripled_but_few": ({"tickets_30d": 2.0, "tickets_30d_vs_baseline": 3.0}, []),
    "tickets_from_none": ({"tickets_30d": 4.0, "tickets_30d_vs_baseline": np.nan}, ["tickets_rising"]),
    "complaints": ({"complaints_90d": 2.0}, ["tickets_rising"]),
    "overdue_15_days": ({"overdue_days_max": 15.0}, ["overdue_payment"]),
    "overdue_14_days": ({"overdue_days_max": 14.0}, []),
    "silent_before_renewal": (
        {"days_to_renewal": 60.0, "days_since_customer_reply": 30.0},
        ["no_reply_before_renewal"],
    ),
    "never_replied_before_renewal": (
        {"days_to_renewal": 90.0, "days_since_customer_reply": np.nan},
        ["no_reply_before_renewal"],
    ),
    "silent_renewal_far_off": ({"days_to_renewal": 91.0, "days_since_customer_reply": 60.0}, []),
    "silent_renewal_passed": ({"days_to_renewal": -1.0, "days_since_customer_reply": 60.0}, []),
    "red": ({"health_band": "red"}, ["health_red"]),
    # with a churn model: its risk at the threshold flags; the usage rules need it to see 3/4 of that
    "model_at_threshold": ({"churn_risk_over_threshold": 1.0}, ["churn_risk_high"]),
    "model_just_below": ({"churn_risk_over_threshold": 0.99}, []),
    "logins_halved_model_agrees": (
        {"logins_30d_vs_baseline": -0.5, "churn_risk_over_threshold": 0.75},
        ["login_drop"],
    ),
    "logins_halved_model_disagrees": (
        {"logins_30d_vs_baseline": -0.5, "churn_risk_over_threshold": 0.74},
        [],
    ),
    "red_model_disagrees": ({"health_band": "red", "churn_risk_over_threshold": 0.2}, []),
    "nothing_known": (dict.fromkeys(QUIET, np.nan), []),
}


def accounts(cases=CASES):
    return pd.DataFrame([{**QUIET, **changes} for changes, _ in cases.values()], index=list(cases))


def test_worked_examples_of_each_default_signal_at_its_threshold():
    firing = DEFAULT_SIGNALS.evaluate(accounts())
    fired = firing.groupby("account")["kind"].apply(list).to_dict()
    for name, (_, kinds) in CASES.items():
        assert fired.get(name, []) == kinds, name


def test_each_firing_signal_keeps_its_title_rule_and_the_values_it_saw():
    firing = DEFAULT_SIGNALS.evaluate(accounts({"logins_halved": CASES["logins_halved"]}))
    assert firing.to_dict("records") == [
        {
            "account": "logins_halved",
            "kind": "login_drop",
            "title": "Logins fell by half against the account's own baseline",
            "severity": "risk",
            "description": "logins_30d_vs_baseline ≤ -0.5 and logins_baseline_30d ≥ 4 and "
            "(churn_risk_over_threshold is missing or churn_risk_over_threshold ≥ 0.75)",
            "values": {
                "logins_30d_vs_baseline": -0.5,
                "logins_baseline_30d": 20.0,
                "churn_risk_over_threshold": None,
            },
        }
    ]
    json.dumps(firing["values"].tolist())


def test_all_signals_can_fire_for_one_account():
    everything = {
        "logins_30d_vs_baseline": -0.8,
        "core_minutes_30d_vs_baseline": -0.8,
        "key_contacts_left_90d": 2.0,
        "complaints_90d": 5.0,
        "overdue_days_max": 40.0,
        "days_to_renewal": 10.0,
        "days_since_customer_reply": 80.0,
        "health_band": "red",
        "churn_risk_over_threshold": 3.0,
    }
    firing = DEFAULT_SIGNALS.evaluate(accounts({"doomed": (everything, None)}))
    assert firing["kind"].tolist() == DEFAULT_SIGNALS.kinds
    assert len(DEFAULT_SIGNALS.kinds) == 9


def test_nothing_firing_gives_an_empty_frame_with_the_columns():
    firing = DEFAULT_SIGNALS.evaluate(accounts({"quiet": CASES["quiet"]}))
    assert firing.empty and list(firing.columns) == [
        "account",
        "kind",
        "title",
        "severity",
        "description",
        "values",
    ]


def test_firing_counts_count_signals_per_account_with_zero_for_quiet_ones():
    index = ["quiet", "red", "champion_left"]
    firing = DEFAULT_SIGNALS.evaluate(
        accounts({k: CASES[k] for k in index}).assign(key_contacts_left_90d=[0.0, 1.0, 1.0])
    )
    assert firing_counts(firing, index).to_dict() == {"quiet": 0, "red": 2, "champion_left": 1}


def test_only_risk_signals_that_held_for_the_confirmation_period_are_confirmed():
    index = ["red_for_a_week", "red_today", "overdue_for_long", "quiet"]
    metrics = accounts(
        {
            k: CASES[
                k.replace("red_for_a_week", "red")
                .replace("red_today", "red")
                .replace("overdue_for_long", "overdue_15_days")
            ]
            for k in index
        }
    )
    firing = DEFAULT_SIGNALS.evaluate(metrics)
    open_since = pd.DataFrame(
        {
            "account": ["red_for_a_week", "overdue_for_long"],
            "kind": ["health_red", "overdue_payment"],
            "opened_on": pd.to_datetime(["2024-05-25", "2024-01-01"]),
        }
    )
    counts = confirmed_counts(firing, open_since, "2024-06-01", DEFAULT_SIGNALS, index)
    # health red held 7 days: confirmed; red since today: not yet; an overdue payment is a watch signal
    assert counts.to_dict() == {"red_for_a_week": 1, "red_today": 0, "overdue_for_long": 0, "quiet": 0}
    assert DEFAULT_SIGNALS.confirm_days == 7
    at_once = SignalSet.from_dict({**DEFAULT_SIGNALS_DATA, "confirm_days": 0})
    assert confirmed_counts(firing, open_since, "2024-06-01", at_once, index)["red_today"] == 1


def test_a_signal_with_its_own_confirmation_window_waits_for_it():
    """churn_risk_high waits its own 7 days (two weekly scorings in a row); given 14, it waits 14."""
    metrics = accounts({"risky": ({"churn_risk_over_threshold": 1.5}, None)})
    firing = DEFAULT_SIGNALS.evaluate(metrics)
    open_since = pd.DataFrame(
        {"account": ["risky"], "kind": ["churn_risk_high"], "opened_on": pd.to_datetime(["2024-05-25"])}
    )
    assert DEFAULT_SIGNALS.confirm_days_of("churn_risk_high") == 7
    assert confirmed_counts(firing, open_since, "2024-05-31", DEFAULT_SIGNALS, ["risky"])["risky"] == 0
    assert confirmed_counts(firing, open_since, "2024-06-01", DEFAULT_SIGNALS, ["risky"])["risky"] == 1
    data = copy.deepcopy(DEFAULT_SIGNALS_DATA)
    data["signals"][0]["confirm_days"] = 14
    slower = SignalSet.from_dict(data)
    assert confirmed_counts(firing, open_since, "2024-06-07", slower, ["risky"])["risky"] == 0
    assert confirmed_counts(firing, open_since, "2024-06-08", slower, ["risky"])["risky"] == 1
    with pytest.raises(SignalError, match=r"^signals\[0\]\.confirm_days: a whole number of days"):
        SignalSet.from_dict({"signals": [{**SIGNAL, "confirm_days": -1}]})


def test_the_churn_risk_signal_opens_at_the_threshold_and_closes_below_the_lower_one():
    """Hysteresis: churn_risk_high opens at 1.0× the flag threshold and, once open, keeps firing
    until the risk falls below 0.8× (its ``while``)."""
    metrics = accounts(
        {
            "wavering": ({"churn_risk_over_threshold": 0.9}, None),
            "at_the_lower": ({"churn_risk_over_threshold": 0.8}, None),
            "fallen": ({"churn_risk_over_threshold": 0.79}, None),
            "new_wavering": ({"churn_risk_over_threshold": 0.9}, None),
        }
    )
    open_before = pd.DataFrame({"account": ["wavering", "at_the_lower", "fallen"], "kind": "churn_risk_high"})
    assert DEFAULT_SIGNALS.evaluate(metrics).empty  # none is at the threshold: none opens
    held = DEFAULT_SIGNALS.evaluate(metrics, open_before)
    assert sorted(held["account"]) == ["at_the_lower", "wavering"]
    assert set(held["kind"]) == {"churn_risk_high"}
    assert DEFAULT_SIGNALS.to_dict()["signals"][0]["while"] == {
        "metric": "churn_risk_over_threshold", "op": ">=", "value": {"param": "lift"}
    }  # fmt: skip
    with pytest.raises(SignalError, match=r"^signals\[0\]\.while"):
        SignalSet.from_dict({"signals": [{**SIGNAL, "while": {"metric": "x", "op": "~", "value": 1}}]})


def test_the_warning_level_grows_with_the_evidence():
    # without a model (risk missing): nothing; watch (a signal fires, none confirmed); a confirmed
    # risk signal is a churn warning, as the rules stand alone
    none = pd.Series([np.nan, np.nan, np.nan])
    assert warning_levels(pd.Series([0, 1, 1]), pd.Series([0, 0, 1]), none).tolist() == [0, 1, 3]
    # with a model: a confirmed rule alone is watch closely (2); corroborated by two more signals
    # firing, or by a risk twice the threshold, a churn warning (3)
    firing = pd.Series([1, 3, 1, 1])
    confirmed = pd.Series([1, 1, 1, 0])
    risk = pd.Series([0.9, 0.5, 2.0, 0.5])
    assert warning_levels(firing, confirmed, risk).tolist() == [2, 3, 3, 1]


def test_with_a_model_its_risk_makes_a_churn_warning_when_confirmed_or_corroborated():
    # accounts: the model's signal fires unconfirmed alone; fires unconfirmed beside a confirmed
    # rule; confirmed alone (two weekly scorings above the threshold); a rule confirmed while the
    # model's signal does not fire
    firing = pd.Series([1, 2, 1, 1])
    confirmed = pd.Series([0, 1, 1, 1])
    risk = pd.Series([1.2, 1.1, 1.3, 0.9])
    model_firing = pd.Series([1, 1, 1, 0])
    model_confirmed = pd.Series([0, 0, 1, 0])
    levels = warning_levels(firing, confirmed, risk, model_firing, model_confirmed)
    assert levels.tolist() == [1, 3, 3, 2]
    assert flags(levels).tolist() == [False, True, True, False]


def test_a_dormant_order_account_keeps_at_most_the_level_watch():
    index = pd.Index(["dormant buyer", "dormant subscriber", "active buyer", "quiet dormant buyer"])
    levels = pd.Series([3, 3, 2, 0], index=index)
    stages = pd.Series(["dormant", "dormant", "growth", "dormant"], index=index)
    order_based = pd.Series([True, False, True, True], index=index)
    capped = without_churn_warning_when_dormant(levels, stages, order_based)
    assert capped.tolist() == [1, 3, 2, 0]


def test_only_the_churn_warning_flags():
    level = pd.Series([0, 1, 2, 3])
    # level 2 (one confirmed signal nothing backs) is shown, not flagged; level 3 flags
    assert flags(level).tolist() == [False, False, False, True]


def test_thresholds_are_parameters():
    data = copy.deepcopy(DEFAULT_SIGNALS_DATA)
    data["signals"][5]["params"]["days"] = 30  # overdue_payment
    lenient = SignalSet.from_dict(data)
    firing = lenient.evaluate(accounts({"overdue_15_days": CASES["overdue_15_days"]}))
    assert firing.empty


def test_the_defaults_round_trip_through_json_and_declare_their_metrics():
    again = SignalSet.from_dict(json.loads(json.dumps(DEFAULT_SIGNALS.to_dict())))
    assert again.to_dict() == DEFAULT_SIGNALS_DATA
    assert set(DEFAULT_SIGNALS.metrics()) == set(QUIET)
    DEFAULT_SIGNALS.validate(list(QUIET))


def test_validate_names_an_unknown_metric_with_its_place_in_the_signal_set():
    known = [m for m in QUIET if m != "logins_baseline_30d"]
    with pytest.raises(
        SignalError, match=r"^signals\[1\]\.when\.all\[1\]\.metric: unknown metric 'logins_baseline_30d'"
    ):
        DEFAULT_SIGNALS.validate(known)


SIGNAL = {
    "kind": "k",
    "title": "K",
    "params": {"n": 1},
    "when": {"metric": "x", "op": ">=", "value": {"param": "n"}},
}


@pytest.mark.parametrize(
    "data, message",
    [
        ({"signals": [SIGNAL, SIGNAL]}, "signals[1].kind: two signals are of kind 'k'"),
        (
            {"signals": [{**SIGNAL, "params": {}}]},
            "signals[0].when.value: unknown parameter 'n' (parameters: none)",
        ),
        (
            {"signals": [{**SIGNAL, "params": {"n": True}}]},
            "signals[0].params.n: a parameter is a number or a text, got True",
        ),
        (
            {"signals": [{**SIGNAL, "when": {"metric": "x", "op": ">=", "value": "high"}}]},
            "signals[0].when.value: '>=' compares with a number, got a text 'high'",
        ),
        ({"signals": [{**SIGNAL, "kind": ""}]}, "signals[0].kind: a signal needs a kind (its stored name)"),
        (
            {"signals": [{**SIGNAL, "severity": 3}]},
            "signals[0].severity: expected risk or watch, got 3",
        ),
        ({"signals": [{"kind": "k"}]}, "signals[0]: a signal needs a 'when' condition"),
        ({"signals": []}, "signals: expected a non-empty list of signal definitions"),
        (
            {"rules": []},
            "signal set: expected an object with 'signals' (a list of signal definitions) and optionally 'confirm_days'",
        ),
    ],
)
def test_it_refuses_a_malformed_signal_set_naming_where(data, message):
    with pytest.raises(SignalError) as caught:
        SignalSet.from_dict(data)
    assert str(caught.value) == message


# -- reconciliation -----------------------------------------------------------------------------


def signals(*pairs, **extra):
    frame = pd.DataFrame(pairs, columns=["account", "kind"])
    for column, values in extra.items():
        frame[column] = values
    return frame


def keys(frame):
    return sorted(zip(frame["account"], frame["kind"], strict=True))


def test_worked_example_of_reconciliation():
    """Open now: 1 login_drop, 2 overdue_payment (twice, by mistake), 3 health_red.
    Firing today: 1 login_drop, 1 health_red, 4 key_contact_left. Today's run covered 1, 2 and 4.
    → open 1 health_red and 4 key_contact_left; keep 1 login_drop; close 2 overdue_payment (cleared)
    and its duplicate; leave 3 alone (not evaluated today)."""
    open_now = signals(
        (1, "login_drop"),
        (2, "overdue_payment"),
        (2, "overdue_payment"),
        (3, "health_red"),
        id=[10, 11, 12, 13],
    )
    firing = signals(
        (1, "login_drop"), (1, "health_red"), (4, "key_contact_left"), values=[{"a": 1}, {"b": 2}, {"c": 3}]
    )
    result = reconcile(open_now, firing, evaluated_accounts=[1, 2, 4])
    assert keys(result.open) == [(1, "health_red"), (4, "key_contact_left")]
    assert result.keep.to_dict("records") == [
        {"account": 1, "kind": "login_drop", "id": 10, "values": {"a": 1}}
    ]
    assert result.close[["id", "reason"]].to_dict("records") == [
        {"id": 11, "reason": "cleared"},
        {"id": 12, "reason": "duplicate"},
    ]


def test_without_the_evaluated_accounts_every_open_signal_not_firing_is_closed():
    result = reconcile(signals((3, "health_red")), signals((1, "login_drop")))
    assert keys(result.close) == [(3, "health_red")]


def test_a_signal_firing_twice_today_opens_once():
    result = reconcile(signals(), signals((1, "login_drop"), (1, "login_drop")))
    assert keys(result.open) == [(1, "login_drop")]


def test_reconciling_again_after_applying_the_result_changes_nothing():
    open_now = signals((1, "login_drop"), (2, "overdue_payment"))
    firing = signals((1, "login_drop"), (5, "health_red"))
    first = reconcile(open_now, firing)
    applied = pd.concat([first.keep[["account", "kind"]], first.open[["account", "kind"]]])
    second = reconcile(applied, firing)
    assert second.open.empty and second.close.empty and keys(second.keep) == keys(applied)


def test_reconcile_names_missing_columns():
    with pytest.raises(ValueError, match="open_signals needs columns account and kind"):
        reconcile(pd.DataFrame({"account": [1]}), signals())


PAIRS = st.lists(st.tuples(st.integers(1, 4), st.sampled_from(["a", "b", "c"])), max_size=12)


@settings(max_examples=60, deadline=None)
@given(PAIRS, PAIRS)
def test_after_reconciling_exactly_the_firing_signals_are_open_once_each(open_pairs, firing_pairs):
    result = reconcile(signals(*open_pairs), signals(*firing_pairs))
    now_open = keys(result.keep) + keys(result.open)
    assert sorted(now_open) == sorted(set(firing_pairs))
    assert len(result.keep) + len(result.close) == len(open_pairs)
    assert not set(keys(result.keep)) & set(keys(result.close[result.close["reason"] == "cleared"]))
