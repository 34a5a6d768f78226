"""CAC per channel and period, LTV:CAC, CAC health (seed 000: healthy below 30% of LTV, alarm
above 50%) and payback: worked examples computed by hand, undefined CAC reported as such, and bad
inputs refused."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clm.analytics import acquisition
from clm.analytics.clv.errors import CLVInputError
from clm.analytics.value_frames import AnalyticsInputError


def spend() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "channel": ["ads", "ads", "events", "seo"],
            "month": ["2024-01", "2024-02", "2024-01", "2024-02"],
            "amount": [10_000, 6_000, 9_000, 0],
        }
    )


def customers() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": [1, 2, 3, 4, 5],
            "acquisition_channel": ["ads", "ads", "ads", "referral", None],
            "customer_since": ["2024-01-05", "2024-01-20", "2024-02-03", "2024-02-10", "2024-02-11"],
        }
    )


def test_cac_per_channel_and_month_matches_the_worked_example():
    table = acquisition.cac_by_channel(spend(), customers())
    rows = {(r.channel, str(r.period)): r for r in table.itertuples()}
    # ads: 10,000 / 2 in January, 6,000 / 1 in February
    assert rows[("ads", "2024-01")].cac == 5_000
    assert rows[("ads", "2024-02")].cac == 6_000
    # events spent 9,000 and won nobody: CAC is undefined, reported as such, not inf
    events = rows[("events", "2024-01")]
    assert events.cac is pd.NA and events.status == "no_new_customers" and events.new_customers == 0
    # referral won a customer with no spend recorded; a blank channel is "unattributed"
    assert (rows[("referral", "2024-02")].cac, rows[("referral", "2024-02")].status) == (0, "no_spend")
    assert ("unattributed", "2024-02") in rows
    assert not np.isinf(table["cac"].to_numpy(dtype=float, na_value=np.nan)).any()


def test_blended_cac_over_the_whole_range_and_by_quarter():
    table = acquisition.cac_by_channel(spend(), customers(), period=None, blended=True).set_index("channel")
    assert table.loc["ads", "cac"] == pytest.approx(16_000 / 3)
    assert table.loc["all", "cac"] == pytest.approx(25_000 / 5)  # all spend over all new customers
    assert table["period"].isna().all()
    quarterly = acquisition.cac_by_channel(spend(), customers(), period="quarter")
    assert set(quarterly["period"].astype(str)) == {"2024Q1"}


def test_unit_economics_from_account_ltv_match_the_worked_example():
    values = pd.DataFrame(
        {
            "account_id": [1, 2, 3, 4],
            "ltv": [20_000, 30_000, 10_000, 5_000],
            "monthly_margin": [1_000, 1_000, 500, 100],
        }
    )
    table = acquisition.unit_economics(spend(), customers(), values, period="month")
    rows = {(r.channel, str(r.period)): r for r in table.itertuples()}
    january = rows[("ads", "2024-01")]
    # LTV = mean(20,000, 30,000) = 25,000; CAC 5,000 → LTV:CAC 5, CAC/LTV 20% healthy;
    # payback = 5,000 / mean monthly margin 1,000 = 5 months
    assert (january.ltv, january.ltv_to_cac, january.cac_share_of_ltv, january.health, january.payback_months) == (
        25_000, 5, 0.2, "healthy", 5,
    )  # fmt: skip
    february = rows[("ads", "2024-02")]
    # LTV 10,000, CAC 6,000 → 60% of LTV: alarm; payback 6,000 / 500 = 12 months
    assert (february.cac_share_of_ltv, february.health, february.payback_months) == (0.6, "alarm", 12)
    events = rows[("events", "2024-01")]
    assert events.ltv_to_cac is pd.NA and events.payback_months is pd.NA and events.health is None


def test_unit_economics_from_channel_ltv_classify_warning_between_30_and_50_percent():
    values = pd.DataFrame({"channel": ["ads"], "ltv": [16_000], "monthly_margin": [800]})
    table = acquisition.unit_economics(spend(), customers(), values).set_index("channel")
    ads = table.loc["ads"]
    # over the whole range CAC = 16,000 / 3 = 5,333.33; 5,333.33 / 16,000 = 33% → warning
    assert ads["cac_share_of_ltv"] == pytest.approx(1 / 3)
    assert ads["health"] == "warning"
    assert ads["ltv_to_cac"] == pytest.approx(3)
    assert ads["payback_months"] == pytest.approx(16_000 / 3 / 800)


def test_a_channel_whose_customers_never_pay_back_is_an_alarm():
    values = pd.DataFrame({"channel": ["ads"], "ltv": [-100], "monthly_margin": [0]})
    ads = acquisition.unit_economics(spend(), customers(), values).set_index("channel").loc["ads"]
    assert ads["health"] == "alarm"
    assert ads["payback_months"] is pd.NA  # no margin: it never pays back


def test_the_formula_itself_refuses_a_cac_without_new_customers():
    with pytest.raises(CLVInputError, match="CAC is undefined without new customers"):
        acquisition.customer_acquisition_cost(9_000, 0)


@pytest.mark.parametrize(
    ("frame", "row", "column", "value", "message"),
    [
        ("spend", 1, "amount", -6_000, "spend cannot be negative"),
        ("spend", 2, "month", "next month", "is not a date"),
        ("spend", 0, "channel", None, "is missing"),
        ("customers", 3, "customer_since", "", "is missing"),
    ],
)
def test_it_refuses_bad_rows(frame, row, column, value, message):
    frames = {"spend": spend(), "customers": customers()}
    frames[frame] = frames[frame].astype({column: object})
    frames[frame].loc[row, column] = value
    with pytest.raises(AnalyticsInputError, match=f"{frame} row {row}, {column}.*{message}"):
        acquisition.cac_by_channel(frames["spend"], frames["customers"])


def test_it_refuses_data_after_the_as_of_date():
    with pytest.raises(
        AnalyticsInputError, match="customers row 2, customer_since = '2024-02-03': is after the as-of"
    ):
        acquisition.cac_by_channel(spend().iloc[[0, 2]], customers(), as_of="2024-01-31")
    with pytest.raises(
        AnalyticsInputError, match="spend row 1, month = '2024-02': is after the as-of month 2024-01"
    ):
        acquisition.cac_by_channel(spend(), customers().iloc[:2], as_of="2024-01-31")


def test_it_refuses_an_unknown_period():
    with pytest.raises(AnalyticsInputError, match="period = 'week'"):
        acquisition.cac_by_channel(spend(), customers(), period="week")


def test_empty_frames_give_empty_tables():
    no_spend = pd.DataFrame(columns=list(acquisition.SPEND_COLUMNS))
    no_customers = pd.DataFrame(columns=list(acquisition.CUSTOMER_COLUMNS))
    assert acquisition.cac_by_channel(no_spend, no_customers).empty
    assert list(acquisition.cac_by_channel(no_spend, no_customers).columns) == list(acquisition.CAC_COLUMNS)
    assert acquisition.unit_economics(
        no_spend, no_customers, pd.DataFrame(columns=["account_id", "ltv"])
    ).empty
    only_spend = acquisition.cac_by_channel(spend(), no_customers)
    assert (only_spend["status"] == "no_new_customers").all()


@settings(deadline=None, max_examples=40)
@given(
    spent=st.lists(
        st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(1, 3), st.integers(0, 5000)), max_size=12
    ),
    won=st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(1, 3)), max_size=12),
)
def test_cac_times_new_customers_gives_back_the_spend(spent, won):
    spend_frame = pd.DataFrame(
        [(c, f"2024-0{m}", x) for c, m, x in spent], columns=list(acquisition.SPEND_COLUMNS)
    )
    customer_frame = pd.DataFrame(
        [(i, c, f"2024-0{m}-15") for i, (c, m) in enumerate(won)], columns=list(acquisition.CUSTOMER_COLUMNS)
    )
    table = acquisition.cac_by_channel(spend_frame, customer_frame, blended=True)
    defined = table[table["cac"].notna()]
    np.testing.assert_allclose(defined["cac"].astype(float) * defined["new_customers"], defined["spend"])
    assert (table["cac"].isna() == (table["new_customers"] == 0)).all()
    totals = table[table["channel"] != acquisition.ALL_CHANNELS]
    assert totals["spend"].sum() == pytest.approx(spend_frame["amount"].sum())
    assert totals["new_customers"].sum() == len(customer_frame)
