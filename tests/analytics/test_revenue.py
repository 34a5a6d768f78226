"""MRR movements, opening/closing MRR and NRR/GRR: worked examples computed by hand, the MRR
identity as a property, and bad ledgers refused with the row named."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clm.analytics import revenue
from clm.analytics.clv.errors import CLVInputError
from clm.analytics.value_frames import AnalyticsInputError

MONTHS = ["2024-01", "2024-02", "2024-03", "2024-04", "2024-05"]


def snapshots_from(table: dict[str, list[float]], months=MONTHS) -> pd.DataFrame:
    rows = [
        (account, month, mrr)
        for account, values in table.items()
        for month, mrr in zip(months, values, strict=True)
        if mrr
    ]
    return pd.DataFrame(rows, columns=list(revenue.SNAPSHOT_COLUMNS))


# a: new, expands, contracts, churns, comes back; b: churns and comes back; c: new then churns
WORKED = {"a": [100, 150, 120, 0, 80], "b": [50, 0, 50, 0, 0], "c": [0, 30, 0, 0, 0]}


def test_account_level_movements_match_the_worked_example():
    table = revenue.mrr_movements(snapshots_from(WORKED))
    # by hand, month by month:
    # Jan: a +100 new, b +50 new                                  0 → 150
    # Feb: a +50 expansion, b −50 churn, c +30 new              150 → 180
    # Mar: a −30 contraction, b +50 reactivation, c −30 churn   180 → 170
    # Apr: a −120 churn, b −50 churn                            170 → 0
    # May: a +80 reactivation (it paid before)                    0 → 80
    expected = pd.DataFrame(
        {
            "opening_mrr": [0, 150, 180, 170, 0],
            "new": [150, 30, 0, 0, 0],
            "expansion": [0, 50, 0, 0, 0],
            "reactivation": [0, 0, 50, 0, 80],
            "contraction": [0, 0, 30, 0, 0],
            "churn": [0, 50, 30, 170, 0],
            "net_new_mrr": [150, 30, -10, -170, 80],
            "closing_mrr": [150, 180, 170, 0, 80],
        },
        index=pd.PeriodIndex(MONTHS, freq="M", name="month"),
    ).astype(float)
    pd.testing.assert_frame_equal(table, expected)


def test_account_movements_list_each_account_month_that_moved():
    moves = revenue.account_mrr_movements(snapshots_from(WORKED))
    march = moves[moves["month"] == pd.Period("2024-03", "M")]
    assert march[["account_id", "movement", "amount", "mrr_before", "mrr_after"]].values.tolist() == [
        ["a", "contraction", 30.0, 150.0, 120.0],
        ["b", "reactivation", 50.0, 0.0, 50.0],
        ["c", "churn", 30.0, 30.0, 0.0],
    ]


def test_rows_of_one_account_and_month_add_up_and_missing_months_mean_no_mrr():
    frame = pd.DataFrame(
        {"account_id": ["x", "x", "x"], "month": ["2024-01", "2024-01", "2024-03"], "mrr": [60, 40, 100]}
    )
    table = revenue.mrr_movements(frame)
    assert table["closing_mrr"].tolist() == [100, 0, 100]
    assert table["churn"].tolist() == [0, 100, 0]
    assert table["reactivation"].tolist() == [0, 0, 100]


def test_start_reports_later_months_but_remembers_who_paid_before():
    table = revenue.mrr_movements(snapshots_from(WORKED), start="2024-03")
    assert list(table.index.astype(str)) == ["2024-03", "2024-04", "2024-05"]
    assert table.loc["2024-03", "opening_mrr"] == 180
    assert table.loc["2024-03", "reactivation"] == 50  # b paid in January: not new


def test_end_extends_the_months_with_no_change():
    table = revenue.mrr_movements(snapshots_from({"a": [100, 0, 0, 0, 0]}), end="2024-03")
    assert list(table.index.astype(str)) == ["2024-01", "2024-02", "2024-03"]
    assert table["closing_mrr"].tolist() == [100, 0, 0]


# ---------------------------------------------------------------- the ledger


def ledger() -> pd.DataFrame:
    rows = [
        # account X: S1 new, expands, renews at a higher price; S2 added then cancelled
        ("X", "S1", "2024-01-10", "new", 0, 100),
        ("X", "S2", "2024-02-01", "new", 0, 50),
        ("X", "S1", "2024-03-05", "expansion", 100, 150),
        ("X", "S2", "2024-04-15", "churn", 50, 0),
        ("X", "S1", "2024-05-10", "renewal", 150, 165),
        # account Y: signs, churns, comes back
        ("Y", "S3", "2024-02-20", "new", 0, 200),
        ("Y", "S3", "2024-03-31", "churn", 200, 0),
        ("Y", "S3", "2024-05-02", "reactivation", 0, 180),
    ]
    return pd.DataFrame(rows, columns=list(revenue.CHANGE_COLUMNS))


def test_ledger_level_movements_count_each_row_as_its_kind():
    table = revenue.mrr_movements_from_changes(ledger())
    # by hand: Jan new 100; Feb new 50 (S2) + 200 (S3); Mar expansion 50, churn 200;
    # Apr churn 50 (S2); May renewal +15 counts as expansion, reactivation 180
    assert table["new"].tolist() == [100, 250, 0, 0, 0]
    assert table["expansion"].tolist() == [0, 0, 50, 0, 15]
    assert table["churn"].tolist() == [0, 0, 200, 50, 0]
    assert table["reactivation"].tolist() == [0, 0, 0, 0, 180]
    assert table["contraction"].tolist() == [0, 0, 0, 0, 0]
    assert table["closing_mrr"].tolist() == [100, 350, 200, 150, 345]


def test_account_level_view_of_the_ledger_reclassifies_a_second_subscription():
    snapshots = revenue.account_mrr_by_month(ledger())
    x = snapshots[snapshots["account_id"] == "X"]["mrr"].tolist()
    assert x == [100, 150, 200, 150, 165]
    table = revenue.mrr_movements(snapshots)
    # X's second subscription is an expansion of X, its cancellation a contraction
    assert table["new"].tolist() == [100, 200, 0, 0, 0]
    assert table["expansion"].tolist() == [0, 50, 50, 0, 15]
    assert table["contraction"].tolist() == [0, 0, 0, 50, 0]
    assert table["churn"].tolist() == [0, 0, 200, 0, 0]
    assert table["reactivation"].tolist() == [0, 0, 0, 0, 180]
    by_ledger = revenue.mrr_movements_from_changes(ledger())
    pd.testing.assert_series_equal(table["closing_mrr"], by_ledger["closing_mrr"])
    pd.testing.assert_series_equal(table["net_new_mrr"], by_ledger["net_new_mrr"])


def test_a_ledger_that_does_not_chain_is_refused_naming_the_row():
    changes = ledger()
    changes.loc[2, "mrr_before"] = 90  # S1 was at 100
    with pytest.raises(AnalyticsInputError, match=r"changes row 2, mrr_before = 90.*row 0.*100"):
        revenue.mrr_movements_from_changes(changes)


@pytest.mark.parametrize(
    ("row", "column", "value", "message"),
    [
        (0, "kind", "upgrade", "must be one of new, renewal"),
        (0, "mrr_before", 10, "starts from 0 MRR"),
        (3, "mrr_after", 5, "churned subscription ends at 0"),
        (2, "mrr_after", 90, "expansion cannot lower MRR"),
        (1, "mrr_after", -50, "cannot be negative"),
        (1, "effective_date", "someday", "is not a date"),
        (1, "subscription_id", None, "is missing"),
    ],
)
def test_it_rejects_impossible_ledger_rows(row, column, value, message):
    changes = ledger().astype({column: object})
    changes.loc[row, column] = value
    with pytest.raises(AnalyticsInputError, match=message) as error:
        revenue.mrr_movements_from_changes(changes)
    assert f"row {row}, {column}" in str(error.value)


def test_it_rejects_a_subscription_moving_between_accounts():
    changes = ledger()
    changes.loc[2, "account_id"] = "Y"
    with pytest.raises(AnalyticsInputError, match="belongs to account X"):
        revenue.account_mrr_by_month(changes)


def test_it_rejects_frames_without_the_columns_it_needs():
    with pytest.raises(AnalyticsInputError, match="missing mrr"):
        revenue.mrr_movements(pd.DataFrame({"account_id": ["a"], "month": ["2024-01"]}))


def test_it_rejects_negative_mrr_in_snapshots():
    frame = pd.DataFrame({"account_id": ["a", "b"], "month": ["2024-01", "2024-01"], "mrr": [10, -5]})
    with pytest.raises(CLVInputError, match="snapshots row 1, mrr = -5: an MRR cannot be negative"):
        revenue.mrr_movements(frame)


def test_empty_frames_give_empty_tables():
    empty = pd.DataFrame(columns=list(revenue.SNAPSHOT_COLUMNS))
    assert revenue.mrr_movements(empty).empty
    assert list(revenue.mrr_movements(empty).columns) == list(revenue.MOVEMENT_COLUMNS)
    assert revenue.account_mrr_movements(empty).empty
    assert revenue.revenue_retention(empty).empty
    assert revenue.mrr_movements_from_changes(pd.DataFrame(columns=list(revenue.CHANGE_COLUMNS))).empty
    assert revenue.account_mrr_by_month(pd.DataFrame(columns=list(revenue.CHANGE_COLUMNS))).empty


# ---------------------------------------------------------------- NRR and GRR


def test_monthly_nrr_and_grr_match_the_worked_example():
    table = revenue.revenue_retention(snapshots_from(WORKED), window=1)
    feb = table.loc["2024-02"]
    # cohort of January: a 100, b 50 = 150. In February a is at 150 (+50), b churned (−50).
    # NRR = (150 + 50 − 0 − 50)/150 = 1.0; GRR = (150 − 0 − 50)/150 = 2/3. c (new) is outside.
    assert (feb["starting_mrr"], feb["expansion"], feb["churn"], feb["ending_mrr"]) == (150, 50, 50, 150)
    assert feb["nrr"] == pytest.approx(1.0)
    assert feb["grr"] == pytest.approx(2 / 3)
    assert (feb["accounts_at_start"], feb["accounts_retained"]) == (2, 1)
    # April → May: nobody paid in April, so retention is undefined, not 0 and not inf
    assert table.loc["2024-05", "nrr"] is pd.NA and table.loc["2024-05", "grr"] is pd.NA


def test_trailing_twelve_month_nrr_and_grr_match_the_worked_example():
    months = [str(p) for p in pd.period_range("2023-01", "2024-01", freq="M")]
    t = [100] * 5 + [0] * 6 + [150, 150]  # lapsed June–November, back in December
    accounts = {
        "p": [1000] * 12 + [1200],
        "q": [500] * 12 + [300],
        "r": [200] * 12 + [0],
        "s": [0] * 12 + [400],  # new in January 2024: not in the cohort
        "t": t,
    }
    table = revenue.revenue_retention(snapshots_from(accounts, months), window=12)
    assert list(table.index.astype(str)) == ["2024-01"]
    row = table.iloc[0]
    # start (Jan 2023) 1000 + 500 + 200 + 100 = 1800; expansion p +200, t +50 (reactivated inside
    # the window, counted at its end MRR); contraction q −200; churn r −200
    assert (row["starting_mrr"], row["expansion"], row["contraction"], row["churn"]) == (1800, 250, 200, 200)
    assert row["nrr"] == pytest.approx((1800 + 250 - 200 - 200) / 1800)  # 0.9167
    assert row["grr"] == pytest.approx((1800 - 200 - 200) / 1800)  # 0.7778
    assert row["ending_mrr"] == 1650


def test_retention_by_group_splits_the_trailing_twelve_months_worked_example():
    months = [str(p) for p in pd.period_range("2023-01", "2024-01", freq="M")]
    accounts = {"p": [1000] * 12 + [1200], "q": [500] * 12 + [300], "r": [200] * 12 + [0], "s": [0] * 12 + [400],
                "t": [100] * 5 + [0] * 6 + [150, 150]}
    snapshots = snapshots_from(accounts, months)
    groups = pd.Series({"p": "east", "q": "east", "r": "west", "s": "west", "t": "west", "u": "north"})
    table = revenue.revenue_retention_by(snapshots, groups, window=12, end="2024-01")
    # east: p 1000 → 1200, q 500 → 300: NRR 1500/1500 = 1, GRR (1500 − 200)/1500
    # west: r 200 → 0 (churn), t 100 → 150 (expansion), s new (outside): NRR 150/300, GRR (300 − 200)/300
    # north has no account with MRR: no row
    assert list(table.index) == ["east", "west"]
    assert table.loc["east", "nrr"] == pytest.approx(1.0) and table.loc["east", "grr"] == pytest.approx(1300 / 1500)
    assert table.loc["west", "nrr"] == pytest.approx(0.5) and table.loc["west", "grr"] == pytest.approx(1 / 3)
    assert (table.loc["west", "accounts_at_start"], table.loc["west", "accounts_retained"]) == (2, 1)
    # the groups add up to the whole company's figure
    whole = revenue.revenue_retention(snapshots, window=12).iloc[0]
    assert table["starting_mrr"].sum() == whole["starting_mrr"] and table["ending_mrr"].sum() == whole["ending_mrr"]


def test_renewal_rate_of_the_contracts_that_came_up():
    changes = pd.DataFrame(
        [(1, 10, "2024-03-01", "renewal"), (1, 11, "2024-03-05", "renewal"), (1, 11, "2024-03-20", "churn"),
         (2, 12, "2024-03-10", "churn"), (2, 13, "2024-02-10", "renewal"), (3, 14, "2024-03-02", "expansion")],
        columns=["owner", "subscription_id", "effective_date", "kind"],
    )
    table = revenue.contract_renewals(changes, "2024-03-01", "2024-03-31", by="owner")
    # owner 1: contract 10 renewed, 11 renewed then cancelled (lost): 1 of 2; owner 2: 12 lost (13 was
    # renewed in February, outside); owner 3: no contract came up, no row
    assert table.loc[1, ["renewed", "lost"]].tolist() == [1, 1] and table.loc[1, "renewal_rate"] == 0.5
    assert table.loc[2, ["renewed", "lost"]].tolist() == [0, 1] and table.loc[2, "renewal_rate"] == 0
    assert list(table.index) == [1, 2]


def test_retention_rejects_a_window_that_is_not_whole_months():
    with pytest.raises(AnalyticsInputError, match="window"):
        revenue.revenue_retention(snapshots_from(WORKED), window=0)


# ---------------------------------------------------------------- properties

mrr_grid = st.lists(
    st.lists(st.sampled_from([0, 0, 10, 25.5, 40, 100, 999.99]), min_size=6, max_size=6),
    min_size=1,
    max_size=8,
)


@settings(deadline=None, max_examples=60)
@given(grid=mrr_grid)
def test_the_mrr_identity_always_holds(grid):
    table = revenue.mrr_movements(snapshots_from({f"acc{i}": row for i, row in enumerate(grid)}, _months(6)))
    if table.empty:
        return
    gained = table["new"] + table["expansion"] + table["reactivation"]
    lost = table["contraction"] + table["churn"]
    np.testing.assert_allclose(table["opening_mrr"] + gained - lost, table["closing_mrr"], atol=1e-6)
    np.testing.assert_allclose(table["opening_mrr"].iloc[1:], table["closing_mrr"].iloc[:-1])
    assert (table[list(revenue.MOVEMENTS)] >= 0).all().all()


@settings(deadline=None, max_examples=60)
@given(grid=mrr_grid, window=st.integers(1, 5))
def test_grr_never_exceeds_one_nor_nrr(grid, window):
    table = revenue.revenue_retention(
        snapshots_from({f"acc{i}": row for i, row in enumerate(grid)}, _months(6)), window=window
    )
    defined = table.dropna(subset=["grr"])
    assert ((defined["grr"] >= -1e-12) & (defined["grr"] <= 1 + 1e-12)).all()
    assert (defined["grr"] <= defined["nrr"] + 1e-12).all()


@settings(deadline=None, max_examples=40)
@given(
    steps=st.lists(st.tuples(st.integers(0, 3), st.sampled_from([0, 0, 20, 50, 80])), min_size=1, max_size=25)
)
def test_both_views_of_a_chained_ledger_agree_on_opening_and_closing(steps):
    state: dict[int, float] = {}
    rows = []
    for i, (sub, mrr) in enumerate(steps):
        before = state.get(sub, 0)
        if before == mrr:
            continue
        kind = (
            "new" if sub not in state else "reactivation" if before == 0 else "churn" if mrr == 0 else "other"
        )
        date = pd.Timestamp("2024-01-01") + pd.Timedelta(days=11 * i)
        rows.append((f"A{sub % 2}", f"S{sub}", date, kind, before, mrr))
        state[sub] = mrr
    changes = pd.DataFrame(rows, columns=list(revenue.CHANGE_COLUMNS))
    if changes.empty:
        return
    ledger_view = revenue.mrr_movements_from_changes(changes)
    account_view = revenue.mrr_movements(revenue.account_mrr_by_month(changes), end=ledger_view.index[-1])
    # the snapshots start at the first month with MRR: earlier ledger months closed at 0
    account_view = account_view.reindex(ledger_view.index, fill_value=0.0)
    np.testing.assert_allclose(account_view["closing_mrr"], ledger_view["closing_mrr"], atol=1e-9)
    np.testing.assert_allclose(account_view["net_new_mrr"], ledger_view["net_new_mrr"], atol=1e-9)


def _months(n: int) -> list[str]:
    return [str(p) for p in pd.period_range("2024-01", periods=n, freq="M")]


def test_the_value_analytics_import_without_django():
    modules = ", ".join(
        f"clm.analytics.{m}" for m in ("revenue", "cohorts", "rfm", "tiers", "affinity", "acquisition")
    )
    code = f"import sys, {modules}; sys.exit(any(m.split('.')[0] == 'django' for m in sys.modules))"
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, env={**os.environ, "PYTHONPATH": str(root)})
    assert done.returncode == 0
