"""Cross-sell affinity "A then later B" and next-best offers: a worked example computed by hand
(seed 002's "buy A, then B about six months later"), a brute-force cross-check of the vectorised
join, and bad inputs refused."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clm.analytics import affinity
from clm.analytics.value_frames import AnalyticsInputError

AS_OF = "2024-09-01"


def lines() -> pd.DataFrame:
    rows = [
        (1, "2024-01-01", "A"), (1, "2024-07-01", "B"), (1, "2024-09-01", "A"),  # a repeat of A changes nothing
        (2, "2024-02-01", "A"), (2, "2024-08-15", "B"),
        (3, "2024-03-01", "A"), (3, "2024-08-28", "B"),
        (4, "2024-01-10", "A"),
        (5, "2024-01-05", "C"), (5, "2024-04-01", "A"),
        (6, "2024-02-02", "C"),
        (7, "2024-03-03", "C"),
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=["account_id", "date", "product_id"])


def test_affinity_matches_the_worked_example():
    table = affinity.product_affinity(lines(), as_of=AS_OF, min_accounts=1).set_index(
        ["antecedent", "consequent"]
    )
    assert sorted(table.index) == [("A", "B"), ("C", "A")]
    a_b = table.loc[("A", "B")]
    # N = 7 accounts; A bought by 1–5 (5), B by 1–3 (3); A then B: 1, 2, 3
    assert (a_b["accounts_antecedent"], a_b["accounts_consequent"], a_b["accounts_both"]) == (5, 3, 3)
    assert a_b["support"] == pytest.approx(3 / 7)
    assert a_b["confidence"] == pytest.approx(3 / 5)
    assert a_b["lift"] == pytest.approx((3 / 5) / (3 / 7))  # 1.4
    # lags: 2024-01-01 → 07-01 = 182 days, 02-01 → 08-15 = 196, 03-01 → 08-28 = 180
    # sorted 180, 182, 196: median 182, quartiles at positions 0.5 and 1.5 → 181 and 189
    assert (a_b["lag_median_days"], a_b["lag_q1_days"], a_b["lag_q3_days"], a_b["lag_iqr_days"]) == (
        182,
        181,
        189,
        8,
    )
    c_a = table.loc[("C", "A")]  # only account 5 bought C before A: 1/3 vs A's base rate 5/7
    assert c_a["confidence"] == pytest.approx(1 / 3)
    assert c_a["lift"] == pytest.approx((1 / 3) / (5 / 7))


def test_purchases_on_the_same_day_are_a_bundle_not_a_sequence():
    frame = pd.DataFrame({"account_id": [1, 1], "date": ["2024-01-01"] * 2, "product_id": ["A", "B"]})
    assert affinity.product_affinity(frame, min_accounts=1).empty


def test_min_accounts_drops_thin_pairs():
    assert affinity.product_affinity(lines(), min_accounts=3)[
        ["antecedent", "consequent"]
    ].values.tolist() == [["A", "B"]]
    assert affinity.product_affinity(lines(), min_accounts=4).empty


def test_next_best_offer_matches_the_worked_example():
    offers = affinity.next_best_offers(lines(), as_of=AS_OF, min_accounts=3).set_index("account_id")
    # accounts owning A but not B: 4 (first A 2024-01-10) and 5 (first A 2024-04-01); C → A has
    # lift 0.47 < 1 and too few accounts, so it offers nothing
    assert sorted(offers.index) == [4, 5]
    four = offers.loc[4]
    assert (four["product_id"], four["because_of"], four["rank"]) == ("B", "A", 1)
    assert four["score"] == pytest.approx(0.6 * 1.4)
    # due: 2024-01-10 + 182 days = 2024-07-10, ± IQR/2 = 4 days
    assert (str(four["due_from"].date()), str(four["due_to"].date())) == ("2024-07-06", "2024-07-14")
    assert four["due_status"] == "overdue"
    five = offers.loc[5]  # 2024-04-01 + 182 = 2024-09-30
    assert (str(five["due_from"].date()), str(five["due_to"].date()), five["due_status"]) == (
        "2024-09-26",
        "2024-10-04",
        "upcoming",
    )
    assert four["reason"] == "Customers who buy A buy B about 6 months later (confidence 60%, lift 1.4)"
    assert four["reason_zh"] == "购买A的客户通常在约6个月后购买B（置信度60%，提升度1.4）"


def test_next_best_offer_names_products_and_ranks_by_expected_value_with_prices():
    offers = affinity.next_best_offers(
        lines(),
        as_of=AS_OF,
        min_accounts=3,
        prices={"A": 100, "B": 2500, "C": 10},
        names={"A": "ERP", "B": "MES"},
    )
    assert offers["expected_value"].tolist() == pytest.approx([0.6 * 2500] * 2)
    assert offers["reason"].iloc[0].startswith("Customers who buy ERP buy MES about 6 months later")
    assert offers["reason_zh"].iloc[0].startswith("购买ERP的客户通常在约6个月后购买MES")


def test_next_best_offers_rank_several_products_per_account():
    rows = []
    for account in range(20):  # A then B after ~30 days for all; A then C after ~90 days for half
        rows += [(account, "2024-01-01", "A"), (account, "2024-01-31", "B")]
        if account % 2:
            rows.append((account, "2024-03-31", "C"))
    rows += [(100 + i, "2024-02-01", "D") for i in range(20)]  # D: unrelated buyers
    rows += [(200, "2024-05-01", "A")]  # the account to advise
    frame = pd.DataFrame(rows, columns=["account_id", "date", "product_id"])
    offers = affinity.next_best_offers(frame, as_of="2024-06-01", top=2)
    mine = offers[offers["account_id"] == 200]
    assert mine["product_id"].tolist() == ["B", "C"]
    assert mine["rank"].tolist() == [1, 2]
    assert "about 30 days later" in mine["reason"].iloc[0]
    assert "约30天后" in mine["reason_zh"].iloc[0]
    assert "about 3 months later" in mine["reason"].iloc[1]
    # accounts 0, 2, ... lack C and are offered it; the odd ones own everything and get nothing
    assert set(offers["account_id"]) == {200} | set(range(0, 20, 2))
    assert not ((offers["account_id"] < 20) & (offers["product_id"] == "B")).any()


def test_lag_in_words():
    assert affinity.lag_in_words(1) == ("about 1 day", "约1天")
    assert affinity.lag_in_words(44) == ("about 44 days", "约44天")
    assert affinity.lag_in_words(182) == ("about 6 months", "约6个月")
    assert affinity.lag_in_words(30.44 * 12) == ("about 12 months", "约12个月")


def test_it_refuses_lines_after_the_as_of_date_and_missing_products():
    with pytest.raises(
        AnalyticsInputError, match="lines row 2, date = '2024-09-01': is after the as-of date 2024-08-31"
    ):
        affinity.product_affinity(lines(), as_of="2024-08-31")
    frame = lines().astype({"product_id": object})
    frame.loc[3, "product_id"] = None
    with pytest.raises(AnalyticsInputError, match="lines row 3, product_id"):
        affinity.product_affinity(frame)


def test_it_refuses_bad_settings_and_unpriced_offers():
    with pytest.raises(AnalyticsInputError, match="min_accounts"):
        affinity.product_affinity(lines(), min_accounts=0)
    with pytest.raises(AnalyticsInputError, match="top"):
        affinity.next_best_offers(lines(), as_of=AS_OF, top=0)
    with pytest.raises(AnalyticsInputError, match=r"prices\[B\].*needs a price"):
        affinity.next_best_offers(lines(), as_of=AS_OF, min_accounts=3, prices={"A": 1})


def test_empty_lines_give_empty_results():
    empty = pd.DataFrame(columns=["account_id", "date", "product_id"])
    assert affinity.product_affinity(empty).empty
    assert list(affinity.product_affinity(empty).columns) == list(affinity.AFFINITY_COLUMNS)
    assert affinity.next_best_offers(empty, as_of=AS_OF).empty


def brute_force(frame: pd.DataFrame) -> dict:
    """The definition, one account at a time, for checking the vectorised version."""
    first = (
        frame.assign(date=pd.to_datetime(frame["date"])).groupby(["account_id", "product_id"])["date"].min()
    )
    accounts = first.index.get_level_values(0).unique()
    buyers = first.groupby(level=1).size()
    lags: dict[tuple, list] = {}
    for account in accounts:
        mine = first.loc[account]
        for a, day_a in mine.items():
            for b, day_b in mine.items():
                if day_b > day_a:
                    lags.setdefault((a, b), []).append((day_b - day_a).days)
    n = len(accounts)
    return {
        pair: (len(v) / buyers[pair[0]], len(v) / buyers[pair[0]] / (buyers[pair[1]] / n), float(np.median(v)),
               float(np.percentile(v, 75) - np.percentile(v, 25)))
        for pair, v in lags.items()
    }  # fmt: skip


@settings(deadline=None, max_examples=40)
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 12), st.integers(0, 400), st.sampled_from(["P", "Q", "R", "S"])),
        min_size=1,
        max_size=60,
    )
)
def test_the_vectorised_affinity_equals_the_definition(rows):
    frame = pd.DataFrame(
        [(a, pd.Timestamp("2023-01-01") + pd.Timedelta(days=d), p) for a, d, p in rows],
        columns=["account_id", "date", "product_id"],
    )
    table = affinity.product_affinity(frame, min_accounts=1)
    expected = brute_force(frame)
    got = {
        (r.antecedent, r.consequent): (r.confidence, r.lift, r.lag_median_days, r.lag_iqr_days)
        for r in table.itertuples()
    }
    assert got.keys() == expected.keys()
    for pair, values in expected.items():
        assert got[pair] == pytest.approx(values)


def test_the_self_join_gives_the_same_answer_when_split_into_chunks(monkeypatch):
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "account_id": rng.integers(0, 300, 3000),
            "date": pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 700, 3000), unit="D"),
            "product_id": rng.choice(list("ABCDEFGH"), 3000),
        }
    )
    whole = affinity.product_affinity(frame, min_accounts=1)
    monkeypatch.setattr(affinity, "_PAIRS_PER_CHUNK", 50)
    pd.testing.assert_frame_equal(affinity.product_affinity(frame, min_accounts=1), whole)
