"""The up-sell rule on a hand-made example (clm.analytics.upsell), computed by hand below."""

import pandas as pd
import pytest

from clm.analytics.upsell import (
    SEATS,
    UPGRADE,
    Thresholds,
    conversions,
    family_mrr,
    family_mrrs,
    upsell_offers,
)

# A family of three plans (list price per seat and month) and an add-on of another family.
PLANS = pd.DataFrame(
    {"product_id": [1, 2, 3], "family": ["ws"] * 3, "list_price": [120.0, 260.0, 480.0]}
)


def test_worked_example():
    contracts = pd.DataFrame(
        {
            "account_id": [10, 11, 12, 13, 14, 14, 15],
            "product_id": [1, 2, 3, 3, 1, 2, 1],
            "seats": [20, 10, 10, 10, 50, 5, 20],
            "mrr": [2400.0, 2600.0, 4800.0, 4800.0, 6000.0, 1300.0, 2400.0],
        }
    )
    usage = pd.DataFrame(
        {
            "account_id": [10, 11, 12, 13, 14, 15],
            "users": [20, 9, 10, 9, 5, 17],
            "users_before": [18, 6, 9, 6, 5, 17],
            "core_used": [2, 2, 2, 2, 4, 4],
            "core_total": [4, 4, 4, 4, 4, 4],
        }
    )
    got = upsell_offers(contracts, usage, PLANS, Thresholds()).set_index("account_id")
    # Defaults: seats full at 100%; growth and breadth count from 100% × 0.9 = 90% utilisation.
    # 10: 20/20 = 1.0 (seats full) on Basic → upgrade to Pro: 20 × (260 − 120) = 2800
    assert got.loc[10, "action"] == UPGRADE and got.loc[10, "product_id"] == 2
    assert got.loc[10, "utilisation"] == pytest.approx(1.0)
    assert got.loc[10, "growth"] == pytest.approx(20 / 18 - 1, abs=1e-4)  # stored to 4 places
    assert got.loc[10, "potential_mrr"] == pytest.approx(2800.0)
    assert got.loc[10, "signals"] == "seats"
    # 11: 9/10 seats (near full), 9/6 − 1 = +50% ≥ 25% growth on Pro → Enterprise: 10 × (480 − 260) = 2200
    assert got.loc[11, "action"] == UPGRADE and got.loc[11, "product_id"] == 3
    assert got.loc[11, "potential_mrr"] == pytest.approx(2200.0) and got.loc[11, "signals"] == "growth"
    # 12: top plan, 10/10 seats → more seats: ceil(10 / 0.8) − 10 = 3 seats × 4800/10 = 1440
    assert got.loc[12, "action"] == SEATS and got.loc[12, "product_id"] == 3
    assert got.loc[12, "added_seats"] == 3 and got.loc[12, "potential_mrr"] == pytest.approx(1440.0)
    # 13: top plan, 9/10 = 0.9 (near full) and +50% growth → ceil(9 / 0.8) − 10 = 2 seats × 480 = 960
    assert got.loc[13, "added_seats"] == 2 and got.loc[13, "potential_mrr"] == pytest.approx(960.0)
    assert got.loc[13, "signals"] == "growth"
    # 14 upgraded to Pro (5 seats) while its Basic contract (50 seats, larger) runs on: the plan it
    # is on is Pro, 5/5 full with every core feature in use → Enterprise, 5 × (480 − 260) = 1100
    assert got.loc[14, "product_id"] == 3 and got.loc[14, "current_product_id"] == 2
    assert got.loc[14, "signals"] == "seats,breadth" and got.loc[14, "potential_mrr"] == pytest.approx(1100.0)
    # 15: every core feature in use, but 17/20 = 0.85 < 0.9: seats partly empty, no offer
    assert 15 not in got.index and len(got) == 5
    # at 0.9, 13's 9 of 10 seats count as full
    old = upsell_offers(contracts, usage, PLANS, Thresholds(seat_utilisation=0.9)).set_index("account_id")
    assert old.loc[13, "signals"] == "seats,growth"


def test_quiet_accounts_get_nothing_and_growth_needs_enough_users():
    contracts = pd.DataFrame({"account_id": [1, 2], "product_id": [1, 3], "seats": [20, 10], "mrr": [2400.0, 4800.0]})
    usage = pd.DataFrame(
        {"account_id": [1, 2], "users": [10, 4], "users_before": [10, 1], "core_used": [1, 0], "core_total": [4, 4]}
    )
    # account 2: 4/1 − 1 = +300%, but the earlier window had 1 user (< min_users 3): no growth
    got = upsell_offers(contracts, usage, PLANS, Thresholds())
    assert got.empty
    assert upsell_offers(contracts.iloc[:0], usage, PLANS, Thresholds()).empty


def test_conversion_and_expansion_from_the_ledger():
    # account 7 on Basic, 20 seats × 120 = 2400; offered on 2026-03-01 with that baseline.
    # 2026-02-10 a raise before the offer (ignored); 2026-04-15 Pro starts (0 → 5200) and Basic
    # ends (2400 → 0) the same day: the family's MRR that evening is 5200, expansion 5200 − 2400.
    ledger = pd.DataFrame(
        {
            "account_id": [7, 7, 7, 7],
            "subscription_id": [1, 1, 2, 1],
            "family": ["ws"] * 4,
            "effective_date": pd.to_datetime(["2026-01-01", "2026-02-10", "2026-04-15", "2026-04-15"]),
            "mrr_before": [0.0, 2000.0, 0.0, 2400.0],
            "mrr_after": [2000.0, 2400.0, 5200.0, 0.0],
        }
    )
    recs = pd.DataFrame(
        {"rec_id": [100, 101], "account_id": [7, 8], "family": ["ws", "ws"],
         "since": pd.to_datetime(["2026-03-01", "2026-03-01"]), "baseline": [2400.0, 1000.0]}
    )  # fmt: skip
    got = conversions(recs, ledger)
    assert got["rec_id"].tolist() == [100]
    assert got["converted_on"].iloc[0] == pd.Timestamp("2026-04-15")
    assert got["expansion_mrr"].iloc[0] == pytest.approx(2800.0)
    assert family_mrr(ledger, pd.Timestamp("2026-03-01")) == pytest.approx(2400.0)


def test_family_mrrs_is_family_mrr_for_every_account_and_family_at_once():
    # account 7 as above (Basic 2400 until Pro replaces it on 2026-04-15), account 8 with two
    # live contracts in the family (300 + 500) and one in another family (90)
    ledger = pd.DataFrame(
        {
            "account_id": [7, 7, 8, 8, 7, 7, 8, 8],
            "subscription_id": [1, 1, 3, 4, 2, 1, 3, 5],
            "family": ["ws", "ws", "ws", "ws", "ws", "ws", "ws", "iot"],
            "effective_date": pd.to_datetime(
                ["2026-01-01", "2026-02-10", "2026-02-11", "2026-02-12", "2026-04-15", "2026-04-15", "2026-04-20",
                 "2026-01-05"]
            ),
            "mrr_before": [0.0, 2000.0, 0.0, 0.0, 0.0, 2400.0, 300.0, 0.0],
            "mrr_after": [2000.0, 2400.0, 300.0, 500.0, 5200.0, 0.0, 350.0, 90.0],
        }
    ).sort_values("effective_date", kind="stable")
    for day in ("2026-01-01", "2026-03-01", "2026-04-15", "2026-05-01"):
        got = family_mrrs(ledger, pd.Timestamp(day))
        for (account, family), rows in ledger.groupby(["account_id", "family"]):
            assert got.get((account, family), 0.0) == pytest.approx(family_mrr(rows, pd.Timestamp(day)))
    assert family_mrrs(ledger, pd.Timestamp("2026-03-01")).to_dict() == {(7, "ws"): 2400.0, (8, "ws"): 800.0, (8, "iot"): 90.0}
