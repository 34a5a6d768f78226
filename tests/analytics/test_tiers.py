"""Value tiers by tenure and total revenue, and the loyalty points ledger: worked examples computed
by hand, balance = sum of the ledger and FIFO expiry as properties, refusals with clear messages."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clm.analytics import tiers
from clm.analytics.tiers import LoyaltyRules, RedemptionRefused, TierRule
from clm.analytics.value_frames import AnalyticsInputError

AS_OF = "2025-06-30"


def accounts() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": ["a", "b", "c", "d"],
            "customer_since": ["2020-01-01", "2023-06-01", "2025-01-01", "2021-01-01"],
            "total_revenue": [1_200_000, 400_000, 60_000, 10_000],
        }
    )


def test_default_tiers_match_the_worked_example():
    table = tiers.value_tiers(accounts(), AS_OF)
    # a: 5.5 years, ¥1.2M → strategic (≥3 y and ≥1M); b: 2.1 y, ¥400k → key (≥1 y and ≥300k);
    # c: half a year, ¥60k → growth (≥50k); d: 4.5 y but ¥10k → standard
    assert table["tier"].to_dict() == {"a": "strategic", "b": "key", "c": "growth", "d": "standard"}
    assert table["tier_label_zh"].to_dict() == {
        "a": "战略客户",
        "b": "重点客户",
        "c": "成长客户",
        "d": "普通客户",
    }
    assert table.loc["a", "tenure_years"] == pytest.approx(2007 / 365.2425)


def test_thresholds_are_inclusive_and_both_must_be_met():
    frame = pd.DataFrame(
        {
            "account_id": ["exact", "short", "small"],
            # 1096 days is the first whole day past 3 × 365.2425
            "customer_since": [pd.Timestamp(AS_OF) - pd.Timedelta(days=1096)] * 2 + ["2010-01-01"],
            "total_revenue": [1_000_000, 1_000_000, 999_999.99],
        }
    )
    frame.loc[1, "customer_since"] = pd.Timestamp(AS_OF) - pd.Timedelta(days=1095)
    assert tiers.value_tiers(frame, AS_OF)["tier"].tolist() == ["strategic", "key", "key"]


def test_tiers_are_configurable():
    rules = (
        TierRule("vip", "VIP", "贵宾", min_tenure_years=0, min_total_revenue=100_000),
        TierRule("rest", "Rest", "其他"),
    )
    assert tiers.value_tiers(accounts(), AS_OF, rules)["tier"].tolist() == ["vip", "vip", "rest", "rest"]


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ((), "at least one tier"),
        ((TierRule("a", "A", "甲", 1, 0),), "the last tier must take every account"),
        ((TierRule("a", "A", "甲", -1, 0), TierRule("b", "B", "乙")), "must be a number ≥ 0"),
        ((TierRule("a", "A", "甲", 1, 0), TierRule("a", "B", "乙")), "its own key"),
    ],
)
def test_it_refuses_tier_configurations_that_cannot_work(rules, message):
    with pytest.raises(AnalyticsInputError, match=message):
        tiers.value_tiers(accounts(), AS_OF, rules)


def test_it_refuses_a_customer_since_after_the_as_of_date_and_negative_revenue():
    frame = accounts()
    frame.loc[2, "customer_since"] = "2025-07-01"
    with pytest.raises(
        AnalyticsInputError, match="accounts row 2, customer_since = '2025-07-01': is after the as-of"
    ):
        tiers.value_tiers(frame, AS_OF)
    frame = accounts()
    frame.loc[1, "total_revenue"] = -1
    with pytest.raises(
        AnalyticsInputError, match="accounts row 1, total_revenue = -1: revenue cannot be negative"
    ):
        tiers.value_tiers(frame, AS_OF)


def test_tier_inputs_come_from_orders_and_empty_frames_give_empty_results():
    orders = pd.DataFrame(
        {
            "account_id": ["a", "a", "b"],
            "date": ["2022-03-01", "2023-01-01", "2024-05-05"],
            "amount": [700_000, 400_000, 5],
        }
    )
    inputs = tiers.tier_inputs_from_orders(orders, AS_OF)
    assert inputs["total_revenue"].tolist() == [1_100_000, 5]
    assert str(inputs.loc[0, "customer_since"].date()) == "2022-03-01"
    assert tiers.value_tiers(inputs, AS_OF)["tier"].tolist() == ["strategic", "standard"]
    assert tiers.value_tiers(pd.DataFrame(columns=list(tiers.TIER_COLUMNS)), AS_OF).empty


# ---------------------------------------------------------------- loyalty points


def ledger() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": ["a", "a", "a", "b"],
            "date": ["2024-01-10", "2024-03-01", "2024-08-01", "2024-05-01"],
            "kind": ["purchase", "redemption", "referral", "purchase"],
            "points": [300, -100, 500, 40],
        }
    )


def test_points_are_earned_per_amount_and_per_referral():
    rules = LoyaltyRules()  # 1 point per 100, 500 per referral
    assert tiers.purchase_points(12_345.6, rules) == 123
    assert tiers.purchase_points(300, rules) == 3  # not 2 from 300 × 0.01 = 2.9999...
    entries = tiers.purchase_entries(
        pd.DataFrame({"account_id": ["a", "b"], "date": ["2024-01-01", "2024-01-02"], "amount": [30_000, 50]})
    )
    assert entries[["account_id", "kind", "points"]].values.tolist() == [
        ["a", "purchase", 300]
    ]  # b earns 0: no entry
    assert tiers.referral_entry("a", "2024-08-01") == {
        "account_id": "a", "date": pd.Timestamp("2024-08-01").date(), "kind": "referral", "points": 500,
    }  # fmt: skip


def test_the_balance_is_the_sum_of_the_ledger():
    assert tiers.balances(ledger()).to_dict() == {"a": 700, "b": 40}  # 300 − 100 + 500
    assert tiers.balances(ledger(), as_of="2024-06-30").to_dict() == {"a": 200, "b": 40}


def test_a_redemption_within_the_balance_gives_service_credit():
    entry = tiers.redemption_entry(ledger(), "a", 400, "2024-09-01", LoyaltyRules(credit_per_point=0.5))
    assert entry["points"] == -400 and entry["kind"] == "redemption" and entry["credit"] == 200.0
    after = pd.concat([ledger(), pd.DataFrame([entry]).drop(columns="credit")], ignore_index=True)
    assert tiers.balances(after)["a"] == 300


def test_a_redemption_above_the_balance_is_refused():
    with pytest.raises(
        RedemptionRefused, match="account a: .* = 701: exceeds the available balance of 700 points"
    ) as refused:
        tiers.redemption_entry(ledger(), "a", 701, "2024-09-01")
    assert (refused.value.requested, refused.value.available) == (701, 700)
    with pytest.raises(RedemptionRefused, match="available balance of 0"):
        tiers.redemption_entry(ledger(), "nobody", 1, "2024-09-01")
    with pytest.raises(AnalyticsInputError, match="whole number of points above 0"):
        tiers.redemption_entry(ledger(), "a", 0, "2024-09-01")


def test_points_expire_oldest_first_after_the_configured_months():
    rules = LoyaltyRules(expiry_months=12)
    # by hand on 2025-02-01: the cutoff is 2024-02-01; earned by then 300 (2024-01-10); spent 100
    # since, oldest first → 200 of those 300 are still there and expire; the referral's 500 stay
    assert tiers.expiring_points(ledger(), "2025-02-01", rules).to_dict() == {"a": 200, "b": 0}
    assert tiers.available_points(ledger(), "a", "2025-02-01", rules) == 500
    with pytest.raises(RedemptionRefused, match="available balance of 500"):
        tiers.redemption_entry(ledger(), "a", 600, "2025-02-01", rules)
    written = pd.concat([ledger(), tiers.expiry_entries(ledger(), "2025-02-01", rules)], ignore_index=True)
    assert tiers.balances(written)["a"] == 500
    assert tiers.expiring_points(written, "2025-02-01", rules)["a"] == 0  # written once, not twice
    # a year after the referral, its points go too (the day it was earned counts as expired)
    assert tiers.expiring_points(written, "2025-08-01", rules).to_dict() == {"a": 500, "b": 40}


def test_without_expiry_nothing_expires():
    assert tiers.expiring_points(ledger(), "2030-01-01", LoyaltyRules()).sum() == 0


@pytest.mark.parametrize(
    ("row", "column", "value", "message"),
    [
        (1, "kind", "gift", "must be one of purchase, referral"),
        (0, "points", -5, "an earning adds points"),
        (1, "points", 100, "takes points away"),
        (0, "points", 2.5, "whole number of points"),
        (2, "date", None, "is missing"),
    ],
)
def test_it_refuses_impossible_ledger_entries(row, column, value, message):
    entries = ledger().astype({column: object})
    entries.loc[row, column] = value
    with pytest.raises(AnalyticsInputError, match=f"ledger row {row}, {column}.*{message}"):
        tiers.check_ledger(entries)


def test_a_ledger_whose_balance_goes_below_zero_is_refused():
    entries = ledger()
    entries.loc[1, "points"] = -301
    with pytest.raises(
        AnalyticsInputError, match="ledger row 1, points = -301: takes account a's balance below 0"
    ):
        tiers.check_ledger(entries)


def test_loyalty_rules_refuse_impossible_settings():
    with pytest.raises(AnalyticsInputError, match="points_per_amount"):
        LoyaltyRules(points_per_amount=-0.01)
    with pytest.raises(AnalyticsInputError, match="expiry_months"):
        LoyaltyRules(expiry_months=0)


def test_empty_ledgers_have_no_balances():
    empty = pd.DataFrame(columns=list(tiers.LEDGER_COLUMNS))
    assert tiers.balances(empty).empty
    assert tiers.check_ledger(empty).empty
    assert tiers.available_points(empty, "a", AS_OF) == 0


operations = st.lists(
    st.tuples(st.sampled_from(["buy", "refer", "redeem"]), st.integers(1, 900), st.integers(0, 30)),
    min_size=1,
    max_size=30,
)


@settings(deadline=None, max_examples=25)
@given(ops=operations)
def test_the_balance_always_equals_the_sum_and_refusals_happen_exactly_above_it(ops):
    rules = LoyaltyRules(points_per_amount=0.1, referral_points=50)
    entries = pd.DataFrame(columns=list(tiers.LEDGER_COLUMNS))
    day = pd.Timestamp("2024-01-01")
    expected = 0
    for kind, number, gap in ops:
        day += pd.Timedelta(days=gap)
        if kind == "buy":
            new = tiers.purchase_entries(
                pd.DataFrame({"account_id": ["a"], "date": [day], "amount": [number]}), rules
            )
            expected += int(new["points"].sum())
        elif kind == "refer":
            new = pd.DataFrame([tiers.referral_entry("a", day, rules)])
            expected += 50
        else:
            if number > expected:
                with pytest.raises(RedemptionRefused):
                    tiers.redemption_entry(entries, "a", number, day, rules)
                continue
            new = pd.DataFrame([tiers.redemption_entry(entries, "a", number, day, rules)]).drop(
                columns="credit"
            )
            expected -= number
        entries = pd.concat([entries, new], ignore_index=True) if len(entries) else new.reset_index(drop=True)
        assert tiers.balances(entries).get("a", 0) == expected == int(entries["points"].sum())
    tiers.check_ledger(entries)


@settings(deadline=None, max_examples=40)
@given(
    ops=st.lists(st.tuples(st.booleans(), st.integers(1, 300), st.integers(0, 120)), min_size=1, max_size=15),
    months=st.integers(1, 12),
)
def test_expiry_matches_a_first_in_first_out_simulation(ops, months):
    rules = LoyaltyRules(expiry_months=months)
    rows, lots, day = [], [], pd.Timestamp("2024-01-01")
    for earn, points, gap in ops:
        day += pd.Timedelta(days=gap)
        if earn:
            rows.append(("a", day, "purchase", points))
            lots.append([day, points])
            continue
        points = min(points, sum(p for _, p in lots))
        if points == 0:
            continue
        rows.append(("a", day, "redemption", -points))
        for lot in lots:  # the oldest points go first
            used = min(lot[1], points)
            lot[1] -= used
            points -= used
    as_of = day + pd.Timedelta(days=200)
    cutoff = as_of - pd.DateOffset(months=months)
    expected = sum(p for d, p in lots if d <= cutoff)
    entries = pd.DataFrame(rows, columns=list(tiers.LEDGER_COLUMNS))
    got = tiers.expiring_points(entries, as_of, rules)
    assert int(got.get("a", 0)) == expected
    assert np.all(got >= 0)
