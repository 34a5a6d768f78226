"""Each KPI of the catalogue against the small company of conftest.world, worked out by hand.

Sources of the definitions: DESIGN.md "Value formulas" and "KPIs by stage" (seed 002 FAQ 4, seed
000's CAC-share lines), clm.analytics.revenue's docstring (NRR/GRR, the usual SaaS definitions),
Reichheld (2003) for NPS (promoters 9–10, detractors 0–6)."""

import datetime as dt

import pytest
from django.db.models import QuerySet

from clm.reports.catalogue import BY_KEY, CATALOGUE, STAGES, TEAMS, UNITS
from clm.reports.kpis.base import Scope, Segment
from clm.reports.periods import Period
from clm.reports.services import kpi_accounts, kpi_table
from clm.service.models import SurveyResponse

from .conftest import TODAY, at, d

NOV = Period.parse("2026-11")


def value(user, key, period=NOV, segment=None):
    return BY_KEY[key].compute(Scope(user, segment, TODAY), period)


@pytest.fixture
def boss(admin_user):
    return admin_user


def ids(world, names):
    return sorted(world[n].pk for n in names)


def test_the_catalogue_has_every_stage_of_the_seeds_and_complete_entries():
    assert {k.stage for k in CATALOGUE} == set(STAGES)
    assert len({k.key for k in CATALOGUE}) == len(CATALOGUE) == 34
    for kpi in CATALOGUE:
        assert kpi.team in TEAMS and kpi.unit in UNITS
        assert str(kpi.name) and str(kpi.definition) and str(kpi.formula)


def test_revenue_retention_of_the_month(world, boss):
    # Start (end of October): A 1000 + B 500 + C 200 = 1700. End of November: A 1200, B 400, C 0.
    # NRR = (1200 + 400) / 1700; GRR = (1700 − contraction 100 − churn 200) / 1700.
    nrr = value(boss, "nrr")
    assert nrr.value == pytest.approx(1600 / 1700)
    assert (nrr.numerator, nrr.denominator) == (1600, 1700)
    assert nrr.account_ids == ids(world, "ABC")
    grr = value(boss, "grr")
    assert grr.value == pytest.approx(1400 / 1700)
    assert grr.breakdown == {"expansion": 200, "contraction": 100, "churn": 200}


def test_logo_retention_and_churn_are_complements_with_their_accounts(world, boss):
    kept, lost = value(boss, "logo_retention"), value(boss, "logo_churn")
    assert (kept.numerator, kept.denominator, kept.value) == (2, 3, pytest.approx(2 / 3))
    assert (lost.numerator, lost.denominator, lost.value) == (1, 3, pytest.approx(1 / 3))
    assert kept.account_ids == ids(world, "AB") and lost.account_ids == ids(world, "C")


def test_new_arr_is_twelve_times_the_new_customers_mrr(world, boss):
    # D started on 5 November at 300 a month: new ARR 12 × 300; A, B and C started in September.
    result = value(boss, "new_arr")
    assert (result.value, result.account_ids) == (3600, ids(world, "D"))
    assert value(boss, "new_arr", Period.parse("2026-10")).value == 0


def test_expansion_churned_revenue_by_reason_and_arr(world, boss):
    assert value(boss, "expansion_mrr").value == 200
    # an up-sell recommendation converted in November with 150 of expansion MRR; one converted in
    # October is not the month's
    import datetime as dt

    from clm.commerce.models import Product
    from clm.value.models import Recommendation

    plan = Product.objects.create(name="Pro", family="Plans")
    for day, mrr, account in ((dt.date(2026, 11, 10), 150, "A"), (dt.date(2026, 10, 10), 90, "B")):
        Recommendation.objects.create(
            account=world[account], product=plan, kind="up_sell", score=1, confidence=1, lift=0, due_from=day,
            due_to=day, reason="", computed_on=day, status="converted", converted_on=day, expansion_mrr=mrr,
        )  # fmt: skip
    assert value(boss, "expansion_mrr").breakdown == {"up_sell_recommendations": 150, "other": 50}
    churned = value(boss, "churned_mrr")
    assert churned.value == 200 and churned.breakdown == {"price": 200} and churned.account_ids == ids(world, "C")
    arr = value(boss, "arr")  # 12 × (1200 + 400 + 300)
    assert arr.value == 22800
    assert arr.breakdown == {"growth": 14400, "mature": 4800, "onboarding": 3600}


def test_customers_by_stage_and_reactivation(world, boss):
    customers = value(boss, "customers")  # A growth, B mature, D and E onboarding, G reactivated
    assert customers.value == 5 and customers.account_ids == ids(world, "ABDEG")
    assert customers.breakdown["churned"] == 1 and customers.breakdown["dormant"] == 1
    back = value(boss, "reactivation_rate")  # G and H dormant on Oct 31; G came back on Nov 12
    assert (back.numerator, back.denominator) == (1, 2) and back.account_ids == ids(world, "G")


def test_health_nps_and_high_value(world, boss):
    healthy = value(boss, "healthy_share")  # green A, E of A, B, D, E
    assert healthy.value == 0.5 and healthy.breakdown == {"green": 2, "yellow": 1, "red": 1}
    nps = value(boss, "nps")  # 10, 10, 9 promoters, 8 passive, 3 detractor: (3 − 1) / 5
    assert nps.value == pytest.approx(40.0)
    assert nps.breakdown == {"promoters": 3, "passives": 1, "detractors": 1}
    high = value(boss, "high_value_share")
    assert high.value == 0.5 and high.account_ids == ids(world, "E")


def test_nps_of_a_month_reads_the_90_days_to_its_end(world, boss):
    # relationship surveys go out quarterly, so a month reads the 90 days to its end (a quarter or
    # a year reads itself): December so far (to Dec 7) reads Sep 9 – Dec 7, November Sep 2 – Nov 30
    SurveyResponse.objects.create(account=world["A"], score=0, responded_at=at(d(9, 5)))
    december = value(boss, "nps", Period.parse("2026-12"))  # November's five answers: (3 − 1) / 5
    assert december.value == pytest.approx(40.0) and december.denominator == 5
    november = value(boss, "nps")  # with the detractor of Sep 5: (3 − 2) / 6
    assert november.value == pytest.approx(100 / 6) and november.denominator == 6
    table = {row.kpi.key: row for row in kpi_table(boss, NOV, today=TODAY)}
    assert table["nps"].result.value == pytest.approx(100 / 6)  # one read for both periods gives the same
    quarter = value(boss, "nps", Period.parse("2026-Q3"))  # the quarter itself: Sep 5 only
    assert quarter.value == pytest.approx(-100.0) and quarter.denominator == 1
    assert "2026-06-03" in value(boss, "nps", Period.parse("2026-08")).no_data  # Jun 3 – Aug 31: none


def test_orders_repurchase_rate_and_interval(world, boss):
    rate = value(boss, "repurchase_rate")  # buyers E, F; F had ordered before November
    assert (rate.numerator, rate.denominator) == (1, 2) and rate.account_ids == ids(world, "F")
    gap = value(boss, "repurchase_interval_days")  # E: Nov 25 − Nov 10 = 15; F: Nov 15 − Aug 1 = 106
    assert gap.value == pytest.approx((15 + 106) / 2)


def test_activation_of_new_customers(world, boss):
    # D (from Nov 5) active on Nov 8 (day 4); E (from Nov 3) first active on Nov 20 (day 18).
    assert value(boss, "active_rate_7d").value == 0.5
    assert value(boss, "active_rate_30d").value == 1.0
    # time to first value is the onboardings' (clm.success.kpis, tests/success/test_kpis.py): none here
    first = value(boss, "median_time_to_first_value_days")
    assert first.value is None and "activation definition" in first.no_data
    assert value(boss, "referral_rate").value == 0.5  # D referred by A; E not


def test_acquisition_funnel_win_rate_cycle_and_email(world, boss):
    assert value(boss, "new_leads").value == 4
    funnel = value(boss, "lead_conversion")
    assert funnel.value == 0.25 and funnel.breakdown == {"leads": 4, "mql": 4, "sql": 2, "opportunity": 1, "won": 1}
    assert value(boss, "win_rate").value == 0.75
    assert value(boss, "sales_cycle_days").value == pytest.approx(20.0)
    assert value(boss, "email_open_rate").value == 0.5
    assert value(boss, "email_click_rate").value == 0.25


def test_icp_match_share_counts_new_leads_at_their_icps_match_score(world, boss):
    from clm.sales import scoring
    from clm.sales.models import ICP, Lead

    ICP.objects.create(key="east", name="华东", rules=[{"field": "region", "op": "in", "value": ["华东"], "weight": 1}],
                       match_at=70)
    new = Lead.objects.filter(mal_at__date__gte="2026-11-01", mal_at__date__lte="2026-11-30").order_by("pk")
    assert new.count() == 4
    Lead.objects.filter(pk__in=list(new.values_list("pk", flat=True))[:2]).update(region="华东")
    scoring.score_leads(list(Lead.objects.values_list("pk", flat=True)))
    icp = value(boss, "icp_match_share")  # 2 of the 4 new leads score 100 ≥ 70; the others 0
    assert (icp.value, icp.numerator, icp.denominator, icp.breakdown) == (0.5, 2, 4, {"east": 2})


def test_unit_economics_with_the_seeds_lines(world, boss):
    # CAC = (6000 + 4000) / 2 new customers (D, E); LTV = mean CLV (30000 + 20000) / 2;
    # payback = CAC / mean monthly margin (1000 + 500) / 2. CAC is 20% of LTV: below seed 000's 30%.
    cac = value(boss, "cac")
    assert (cac.value, cac.numerator, cac.denominator) == (5000, 10000, 2)
    assert cac.breakdown == {"event": 4000, "web": 6000} and cac.account_ids == ids(world, "DE")
    ratio = value(boss, "ltv_to_cac")
    assert ratio.value == pytest.approx(5.0) and ratio.breakdown["cac_share_of_ltv"] == pytest.approx(0.2)
    assert value(boss, "cac_payback_months").value == pytest.approx(5000 / 750)
    assert value(boss, "customer_equity").value == 50000


def test_a_past_periods_new_customers_are_valued_by_the_estimates_the_report_day_knows(world, boss):
    """History keeps one CLV estimate a month (the 1st): the customers won in November have none
    dated in November once thinned. LTV:CAC of November reads the estimates known on the report's
    day (as the API's CAC report does), never ones from after it."""
    from clm.value.models import CLVEstimate

    CLVEstimate.objects.filter(as_of=dt.date(2026, 11, 30)).update(as_of=dt.date(2026, 12, 1))
    ratio = value(boss, "ltv_to_cac")
    assert ratio.value == pytest.approx(5.0) and ratio.numerator == pytest.approx(25000)
    CLVEstimate.objects.filter(as_of=dt.date(2026, 12, 1)).update(as_of=TODAY + dt.timedelta(days=1))
    assert value(boss, "ltv_to_cac").value is None


def test_a_kpi_without_its_data_says_why_and_never_shows_zero(world, boss):
    icp = value(boss, "icp_match_share")
    assert icp.value is None and "ICP" in icp.no_data
    october = Period.parse("2026-10")
    for key in ("nps", "winback_success", "email_open_rate"):
        result = value(boss, key, october)
        assert result.value is None and "2026-10" in result.no_data
    assert "first computed on 2026-11-30, after this period" in value(boss, "customer_equity", october).no_data
    august = value(boss, "nrr", Period.parse("2026-08"))  # no contract before September
    assert august.value is None and august.no_data


def test_an_empty_company_has_a_reason_for_every_kpi(boss):
    for row in kpi_table(boss, NOV, today=TODAY):
        assert row.result.value is None, row.kpi.key
        assert row.result.no_data, row.kpi.key
        assert row.status == "no_data"


def test_a_restricted_rep_sees_the_numbers_of_their_own_portfolio(world, owner, team_visibility):
    # owner has A and D: at the start of November only A (1000 → 1200).
    assert value(owner, "nrr").value == pytest.approx(1.2)
    assert value(owner, "customers").account_ids == sorted([world["A"].pk, world["D"].pk])
    assert "whole company" in value(owner, "cac").no_data  # spend is the company's


def test_a_segment_narrows_accounts_and_company_figures_say_so(world, boss):
    factory = Segment(industry="制造")  # A, B, C
    assert value(boss, "nrr", segment=factory).value == pytest.approx(1600 / 1700)
    assert value(boss, "customers", segment=factory).account_ids == ids(world, "AB")
    assert value(boss, "cac", segment=factory).no_data
    assert value(boss, "new_leads", segment=factory).no_data


def test_drill_down_gives_the_visible_accounts_behind_the_number(world, boss, owner, team_visibility):
    accounts, result = kpi_accounts(boss, "logo_churn", NOV, today=TODAY)
    assert list(accounts.values_list("name", flat=True)) == ["C"]
    mine, _ = kpi_accounts(owner, "customers", NOV, today=TODAY)
    assert sorted(mine.values_list("name", flat=True)) == ["A", "D"]


def test_the_table_compares_with_the_previous_period(world, boss):
    rows = {r.kpi.key: r for r in kpi_table(boss, NOV, today=TODAY)}
    arr = rows["arr"]  # October: 12 × 1700
    assert arr.previous.value == 20400 and arr.change == 22800 - 20400


def test_cac_without_spend_in_the_period_is_not_zero(world, boss):
    from clm.sales.models import ChannelSpend

    ChannelSpend.objects.all().delete()
    assert "channel spend" in value(boss, "cac").no_data and value(boss, "cac").value is None


def _same(a, b) -> bool:
    return (a.value, a.numerator, a.denominator, list(a.account_ids), a.breakdown, dict(a.groups), a.no_data) == (
        b.value, b.numerator, b.denominator, list(b.account_ids), b.breakdown, dict(b.groups), b.no_data)


@pytest.mark.parametrize("segment", [None, Segment(industry="制造")])
def test_the_table_reads_both_periods_at_once_and_gives_what_each_kpi_gives_alone(world, boss, segment):
    """kpi_table loads each dated table once from the previous period's start; each KPI's
    slice of it is what the KPI computes on its own for the one period (a fresh scope)."""
    for row in kpi_table(boss, NOV, segment, today=TODAY, stored=False):
        for period, result in ((NOV, row.result), (NOV.previous(), row.previous)):
            alone = row.kpi.compute(Scope(boss, segment, TODAY), period)
            assert _same(result, alone), (row.kpi.key, period.label)


def test_the_live_table_reads_a_bounded_number_of_queries(world, boss, django_assert_max_num_queries):
    with django_assert_max_num_queries(TABLE_QUERIES):  # both periods: one read per table, not per KPI and period
        kpi_table(boss, NOV, Segment(industry="制造"), today=TODAY, stored=False)


TABLE_QUERIES = 35  # 30 on this company with a segment


@pytest.mark.parametrize("segment", [Segment(industry="制造"), Segment(owner=-1)])
def test_a_segment_read_as_ids_gives_what_its_sub_select_gives(world, boss, segment, monkeypatch):
    """A small segment's accounts are read once and written into each query as ids; above
    SEGMENT_IDS the segment stays a sub-select. Both give every KPI the same result, and an empty
    segment (no account has owner −1) gives the same "no data" either way."""
    from clm.reports.kpis import base

    as_ids = kpi_table(boss, NOV, segment, today=TODAY, stored=False)
    monkeypatch.setattr(base, "SEGMENT_IDS", 0)
    scope = Scope(boss, segment, TODAY)
    as_sub_select = kpi_table(boss, NOV, segment, today=TODAY, stored=False, scope=scope)
    assert isinstance(scope._in_segment, QuerySet)  # the sub-select was taken
    for listed, selected in zip(as_ids, as_sub_select, strict=True):
        assert _same(listed.result, selected.result) and _same(listed.previous, selected.previous), listed.kpi.key
