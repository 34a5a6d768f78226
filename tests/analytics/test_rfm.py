"""RFM values, scores, named segments and the eight-cell Chinese value map: a worked example
computed by hand, scores as a property, the segment map as data, and bad inputs refused."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clm.analytics import rfm
from clm.analytics.value_frames import AnalyticsInputError

AS_OF = "2024-06-30"


def orders() -> pd.DataFrame:
    rows = [
        ("a", "2024-06-01", 100), ("a", "2024-06-20", 200),
        ("b", "2024-01-01", 50), ("b", "2024-02-01", 50), ("b", "2024-03-01", 50),
        ("c", "2023-06-01", 1000),
        ("d", "2024-06-29", 10),
        ("e", "2024-05-01", 300),
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=["account_id", "date", "amount"])


def test_values_match_the_worked_example():
    values = rfm.rfm_values(orders(), AS_OF)
    # by hand: days from the last order to 2024-06-30 (2024 is a leap year)
    assert values["recency_days"].to_dict() == {"a": 10, "b": 121, "c": 395, "d": 1, "e": 60}
    assert values["frequency"].to_dict() == {"a": 2, "b": 3, "c": 1, "d": 1, "e": 1}
    assert values["monetary"].to_dict() == {"a": 300, "b": 150, "c": 1000, "d": 10, "e": 300}


def test_scores_and_segments_match_the_worked_example():
    table = rfm.rfm_table(orders(), AS_OF)
    # R: ranks of −recency c < b < e < a < d → 1..5.
    # F: c, d, e tie at 1 (min rank 1 → 1); a rank 4 → 1 + ⌊5·3/5⌋ = 4; b rank 5 → 5.
    # M: d 10 → 1; b 150 → 2; a and e tie at 300 (min rank 3 → 3); c 1000 → 5.
    assert table["r_score"].to_dict() == {"a": 4, "b": 2, "c": 1, "d": 5, "e": 3}
    assert table["f_score"].to_dict() == {"a": 4, "b": 5, "c": 1, "d": 1, "e": 1}
    assert table["m_score"].to_dict() == {"a": 3, "b": 2, "c": 5, "d": 1, "e": 3}
    # FM = ⌊(F + M + 1)/2⌋: a 4, b 4, c 3, d 1, e 2; then the grid
    assert table["fm_score"].to_dict() == {"a": 4, "b": 4, "c": 3, "d": 1, "e": 2}
    assert table["rfm_code"].to_dict() == {"a": "443", "b": "252", "c": "115", "d": "511", "e": "313"}
    assert table["segment"].to_dict() == {
        "a": "champions",
        "b": "at_risk",
        "c": "at_risk",
        "d": "new",
        "e": "need_attention",
    }
    assert table.loc["d", "segment_label_zh"] == "新客户"


def test_the_eight_cell_map_against_the_mean_matches_the_worked_example():
    table = rfm.rfm_table(orders(), AS_OF)
    # means: recency 587/5 = 117.4 days, frequency 8/5 = 1.6, monetary 1760/5 = 352
    assert table["value_class_zh"].to_dict() == {
        "a": "一般价值客户",  # recent, frequent, 300 < 352
        "b": "一般保持客户",  # 121 days, frequent, low spend
        "c": "重要挽留客户",  # long gone, once, but 1000
        "d": "一般发展客户",
        "e": "一般发展客户",
    }


def test_the_eight_cell_map_against_the_median_treats_ties_as_low():
    table = rfm.rfm_table(orders(), AS_OF, threshold="median")
    # medians: recency 60, frequency 1, monetary 300; e sits on all three medians → all low
    assert table.loc["e", "value_class"] == "general_win_back"
    assert table.loc["a", "value_class"] == "general_value"  # 300 is not above 300
    assert table.loc["c", "value_class"] == "important_win_back"


def test_the_eight_cell_map_covers_every_combination_once():
    assert len(rfm.VALUE_CLASSES) == 8
    assert rfm.VALUE_CLASSES[(True, True, True)][2] == "重要价值客户"
    assert rfm.VALUE_CLASSES[(False, False, False)][2] == "一般挽留客户"
    assert len({names[0] for names in rfm.VALUE_CLASSES.values()}) == 8


def test_the_segment_grid_names_every_cell_with_one_of_the_eleven_segments():
    assert sorted(rfm.SEGMENT_GRID) == [1, 2, 3, 4, 5]
    used = {name for row in rfm.SEGMENT_GRID.values() for name in row}
    assert used == set(rfm.SEGMENT_LABELS)
    assert len(used) == 11
    assert all(len(row) == 5 for row in rfm.SEGMENT_GRID.values())
    assert rfm.SEGMENT_GRID[5][4] == "champions" and rfm.SEGMENT_GRID[1][0] == "lost"


def test_quintile_scores_split_distinct_values_into_fifths_and_keep_ties_together():
    assert rfm.quintile_scores([50, 10, 40, 20, 30]).tolist() == [5, 1, 4, 2, 3]
    assert rfm.quintile_scores(range(10)).tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert rfm.quintile_scores([1, 1, 1, 2, 5]).tolist() == [1, 1, 1, 4, 5]
    assert rfm.quintile_scores([3, 1, 2], higher_is_better=False).tolist() == [1, 4, 2]


@settings(deadline=None, max_examples=80)
@given(values=st.lists(st.integers(0, 20), min_size=1, max_size=60), seed=st.integers(0, 2**16))
def test_scores_are_1_to_5_monotone_and_independent_of_row_order(values, seed):
    scores = rfm.quintile_scores(values)
    assert ((scores >= 1) & (scores <= 5)).all()
    array = np.array(values)
    order = np.argsort(array, kind="stable")
    assert (np.diff(scores[order]) >= 0).all()  # more is never scored lower
    shuffle = np.random.default_rng(seed).permutation(len(values))
    again = rfm.quintile_scores(array[shuffle])
    assert (again == scores[shuffle]).all()
    for value in set(values):  # equal values, equal scores
        assert len(set(scores[array == value])) == 1


@settings(deadline=None, max_examples=30)
@given(
    rows=st.lists(
        st.tuples(st.sampled_from("abcdefghij"), st.integers(0, 400), st.integers(0, 5000)),
        min_size=1,
        max_size=50,
    )
)
def test_every_account_gets_scores_in_range_and_a_known_segment(rows):
    frame = pd.DataFrame(
        [(a, pd.Timestamp("2024-06-30") - pd.Timedelta(days=d), m) for a, d, m in rows],
        columns=["account_id", "date", "amount"],
    )
    table = rfm.rfm_table(frame, AS_OF)
    assert len(table) == frame["account_id"].nunique()
    for column in ("r_score", "f_score", "m_score", "fm_score"):
        assert table[column].between(1, 5).all()
    assert table["segment"].isin(list(rfm.SEGMENT_LABELS)).all()
    assert table["value_class"].notna().all()


def test_it_refuses_orders_after_the_as_of_date():
    with pytest.raises(
        AnalyticsInputError, match="orders row 6, date = '2024-06-29': is after the as-of date 2024-06-25"
    ):
        rfm.rfm_values(orders(), "2024-06-25")


def test_it_refuses_negative_amounts_naming_the_row():
    frame = orders()
    frame.loc[4, "amount"] = -50
    with pytest.raises(AnalyticsInputError, match="orders row 4, amount = -50: an amount cannot be negative"):
        rfm.rfm_table(frame, AS_OF)


def test_it_refuses_an_unknown_threshold_and_missing_columns():
    with pytest.raises(AnalyticsInputError, match="'mean' or 'median'"):
        rfm.rfm_table(orders(), AS_OF, threshold="mode")
    with pytest.raises(AnalyticsInputError, match="missing amount"):
        rfm.rfm_values(orders().drop(columns="amount"), AS_OF)


def test_an_empty_orders_frame_gives_an_empty_table():
    table = rfm.rfm_table(pd.DataFrame(columns=["account_id", "date", "amount"]), AS_OF)
    assert table.empty
    assert {"segment", "value_class_zh", "rfm_code"} <= set(table.columns)
