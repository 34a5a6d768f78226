"""Each dashboard figure (clm.reports.charts) on the small company of conftest.world, worked out
by hand (the world's docstring lists its contracts, orders and stage changes).

MRR per month, from the ledger: September A 1000 + B 500 + C 200 = 1700 (all new), October the
same, November A 1200 (expansion +200), B 400 (contraction −100), C 0 (churn −200), D 300 (new):
1900. Definitions: clm.analytics.revenue's docstring (NRR/GRR, the usual SaaS ones), seed 000's
CAC-share lines (30% warning, 50% alarm)."""

import datetime as dt

import pytest
from django.utils import timezone

from clm.automation.models import Task
from clm.lifecycle.models import BacktestResult, ChurnModel
from clm.reports import figures
from clm.reports.charts import service
from clm.reports.kpis.base import Scope, Segment
from clm.reports.periods import Period

from .conftest import TODAY

NOV = Period.parse("2026-11")


def read(user, key, period=NOV, segment=None):
    return figures.read(key, Scope(user, segment, TODAY), period)


def rows_by(figure, column="month"):
    index = figure["columns"].index(column)
    return {row[index]: dict(zip(figure["columns"], row, strict=True)) for row in figure["rows"]}


def ids(world, names):
    return sorted(world[n].pk for n in names)


@pytest.fixture
def boss(admin_user):
    return admin_user


def test_every_page_lists_registered_figures_and_each_is_json(world, boss):
    # every figure is on a dashboard page, but the overview's own (clm.reports.overview)
    assert set(figures.FIGURES) - service.CHARTS == {"health_trend", "red_by_owner", "renewals"}
    assert service.CHARTS <= set(figures.FIGURES)
    for key in service.CHARTS:
        figure = read(boss, key)
        assert figure["period"] == "2026-11" and figure["as_of"] == "2026-11-30"
        assert all(len(row) == len(figure["columns"]) for row in figure["rows"])


def test_the_mrr_waterfall_adds_up_month_by_month(world, boss):
    figure = read(boss, "revenue.waterfall")
    months = rows_by(figure)
    assert list(months) == ["2026-09", "2026-10", "2026-11"]  # no MRR before September
    assert months["2026-09"] == {"month": "2026-09", "opening_mrr": 0, "new": 1700, "expansion": 0, "reactivation": 0,
                                 "contraction": 0, "churn": 0, "net_new_mrr": 1700, "closing_mrr": 1700}
    nov = months["2026-11"]
    assert (nov["opening_mrr"], nov["new"], nov["expansion"], nov["contraction"], nov["churn"]) == (1700, 300, 200, 100, 200)
    assert nov["closing_mrr"] == 1700 + 300 + 200 - 100 - 200 == 1900
    groups = figure["groups"]
    assert groups["2026-11:new"] == ids(world, "D") and groups["2026-11:expansion"] == ids(world, "A")
    assert groups["2026-11:contraction"] == ids(world, "B") and groups["2026-11:churn"] == ids(world, "C")
    assert groups["2026-09:new"] == ids(world, "ABC")


def test_nrr_and_grr_by_month_and_by_signup_cohort(world, boss):
    nov = rows_by(read(boss, "revenue.retention"))["2026-11"]
    # the accounts with MRR at the end of October (A, B, C: 1700) at the end of November: 1200 + 400 + 0
    assert (nov["starting_mrr"], nov["ending_mrr"]) == (1700, 1600)
    assert nov["nrr"] == pytest.approx(1600 / 1700, abs=1e-4)
    assert nov["grr"] == pytest.approx((1700 - 100 - 200) / 1700, abs=1e-4)
    assert rows_by(read(boss, "revenue.retention"))["2026-10"]["nrr"] == 1.0
    cohorts = read(boss, "revenue.cohort_retention")
    # A, B, C first had MRR in September (2026Q3); D's cohort (2026Q4) had nothing at the start
    assert cohorts["rows"] == [["2026Q3", 3, 1700.0, 1600.0, pytest.approx(0.9412), pytest.approx(0.8235)]]
    assert cohorts["groups"] == {"2026Q3": ids(world, "ABC")}


def test_arr_by_industry_region_and_tier(world, boss):
    figure = read(boss, "revenue.arr_segments")
    rows = {(r[0], r[1]): (r[2], r[3]) for r in figure["rows"]}
    # 12 × MRR at the end of November: A 14,400 + B 4,800 (制造); D 3,600 (零售); C has none
    assert rows[("industry", "制造")] == (19200, 2) and rows[("industry", "零售")] == (3600, 1)
    assert rows[("region", "")] == (22800, 3)  # no region recorded: one "not set" segment
    assert rows[("tier", "")] == (22800, 3)  # the tiered accounts (E, F) buy by order: no ARR
    assert figure["groups"]["industry:制造"] == ids(world, "AB")


def test_logo_and_revenue_retention_heat_maps(world, boss):
    logo = rows_by(read(boss, "cohorts.logo"), "cohort")
    # the September cohort (A, B, C): all active in months 0 and 1, C gone by the end of month 2
    assert logo["2026-09"]["size"] == 3
    assert [logo["2026-09"][f"m{k}"] for k in range(4)] == [1.0, 1.0, pytest.approx(2 / 3, abs=1e-4), None]
    assert logo["2026-11"]["m0"] == 1.0 and logo["2026-11"]["m1"] is None  # not observed yet
    revenue = rows_by(read(boss, "cohorts.revenue"), "cohort")
    assert revenue["2026-09"]["m2"] == pytest.approx(1600 / 1700, abs=1e-4)
    # each cell's part: the cohort's accounts with MRR at that age (C is gone in month 2)
    groups = read(boss, "cohorts.logo")["groups"]
    assert groups["2026-09:m0"] == groups["2026-09:m1"] == ids(world, "ABC") and groups["2026-09:m2"] == ids(world, "AB")
    assert "2026-09:m3" not in groups and read(boss, "cohorts.revenue")["groups"]["2026-09:m2"] == ids(world, "AB")


def test_repurchase_cohorts_of_customers_without_contracts(world, boss):
    figure = read(boss, "cohorts.repurchase")
    rows = rows_by(figure, "cohort")
    # F first ordered in August and again on November 15 (month 3); E on Nov 10 and again Nov 25
    assert [rows["2026-08"][f"m{k}"] for k in range(5)] == [0.0, 0.0, 0.0, 1.0, None]
    assert rows["2026-11"]["m0"] == 1.0
    # a cell's part: those that had ordered again by then (F from month 3 on, E in its first month)
    assert figure["groups"] == {"2026-08": ids(world, "F"), "2026-11": ids(world, "E"),
                                "2026-08:m3": ids(world, "F"), "2026-11:m0": ids(world, "E")}


def test_the_sankey_time_in_stage_and_returns(world, boss):
    sankey = read(boss, "flows.sankey")
    # November's moves: C at risk → churned (Nov 28), G dormant → reactivated (Nov 12); D and E
    # entered onboarding as new accounts
    assert sorted(sankey["rows"]) == [["at_risk", "churned", 1], ["dormant", "reactivated", 1]]
    assert sankey["groups"] == {"at_risk>churned": ids(world, "C"), "dormant>reactivated": ids(world, "G"),
                                "new>onboarding": ids(world, "DE")}
    stages = rows_by(read(boss, "flows.stage_time"), "stage")
    # stays that ended in November: C at risk Oct 1 → Nov 28 (58 days), G dormant Sep 1 → Nov 12 (72)
    assert (stages["at_risk"]["median_days"], stages["at_risk"]["stays"]) == (58, 1)
    assert (stages["dormant"]["median_days"], stages["dormant"]["ongoing"]) == (72, 1)  # H is still dormant
    assert stages["onboarding"]["ongoing"] == 2 and stages["onboarding"]["median_days"] is None
    returns = rows_by(read(boss, "flows.returns"))
    # lapsed when November began: G and H (dormant); G came back
    assert (returns["2026-11"]["lapsed"], returns["2026-11"]["returned"], returns["2026-11"]["share"]) == (2, 1, 0.5)
    assert (returns["2026-09"]["lapsed"], returns["2026-09"]["returned"]) == (1, 0)  # only H before September
    assert len(returns) == 12


def test_clv_distribution_equity_and_tiers(world, boss):
    clv = read(boss, "value.clv")
    # D 30,000 and E 20,000: one bin on the 1-2-5 ladder, from 20,000 to 50,000
    assert clv["rows"] == [[20000.0, 50000.0, 2, 50000.0]]
    assert (clv["equity"], clv["accounts"], clv["median"]) == (50000, 2, 25000)
    assert clv["groups"] == {"20000-50000": ids(world, "DE")}
    tiers = read(boss, "value.tiers")
    assert tiers["rows"] == [["2026-11", "t", 2]]


def test_cac_ltv_to_cac_and_payback_by_channel_with_the_bands(world, boss):
    figure = read(boss, "value.economics")
    rows = rows_by(figure, "channel")
    # web: 6,000 spent, D won (CLV 30,000, margin 1,000/month): CAC 6,000, LTV:CAC 5, CAC 20% of LTV, payback 6
    assert rows["web"] == {"channel": "web", "spend": 6000, "new_customers": 1, "cac": 6000, "ltv": 30000,
                           "ltv_to_cac": 5.0, "cac_share_of_ltv": 0.2, "health": "healthy", "payback_months": 6.0}
    assert (rows["event"]["cac"], rows["event"]["payback_months"]) == (4000, 8.0)
    # all channels: 10,000 / 2 = 5,000; LTV (30,000 + 20,000) / 2; payback 5,000 / 750
    assert (rows["all"]["cac"], rows["all"]["ltv"]) == (5000, 25000)
    assert rows["all"]["payback_months"] == pytest.approx(5000 / 750, abs=1e-4)
    assert figure["bands"] == {"warning": 0.3, "alarm": 0.5}
    assert figure["groups"]["web"] == ids(world, "D") and figure["groups"]["all"] == ids(world, "DE")


def test_team_figures_per_owner(world, boss, owner, outsider):
    Task.objects.create(title="call", account=world["A"], assignee=owner, due_at=timezone.now() - dt.timedelta(days=2))
    Task.objects.create(title="later", account=world["A"], assignee=owner, due_at=timezone.now() + dt.timedelta(days=2))
    Task.objects.create(title="done", account=world["B"], assignee=outsider, status="done",
                        due_at=timezone.now() - dt.timedelta(days=2))
    rows = {r[2]: dict(zip(read(boss, "team.people")["columns"], r, strict=True)) for r in read(boss, "team.people")["rows"]}
    mine = rows["owner"]
    # A and D: ARR 14,400 + 3,600; red: D of A (green) and D; NRR: A alone had MRR at the start, 1000 → 1200
    assert (mine["accounts"], mine["arr"], mine["red_share"], mine["nrr"]) == (2, 18000, 0.5, 1.2)
    assert (mine["renewed"], mine["lost"], mine["renewal_rate"], mine["overdue_tasks"]) == (0, 0, None, 1)
    theirs = rows["outsider"]
    # B, C, E, F, G, H: ARR B 4,800; scored B (yellow) and E (green); C's contract ended: 0 of 1 renewed
    assert (theirs["accounts"], theirs["arr"], theirs["red_share"]) == (6, 4800, 0.0)
    assert (theirs["renewed"], theirs["lost"], theirs["renewal_rate"], theirs["overdue_tasks"]) == (0, 1, 0.0, 0)
    assert theirs["nrr"] == pytest.approx((400 + 0) / (500 + 200), abs=1e-4)


def test_a_renewed_contract_counts_for_the_renewal_rate(world, boss, owner):
    from tests.factories import ledger

    subscription = world["A"].subscriptions.get()
    ledger(subscription, dt.date(2026, 11, 25), "renewal", 1200, 1)
    mine = next(r for r in read(boss, "team.people")["rows"] if r[2] == "owner")
    assert mine[6:9] == [1, 0, 1.0]


def test_a_rep_sees_the_figures_of_their_own_portfolio_only(world, owner, team_visibility):
    waterfall = rows_by(read(owner, "revenue.waterfall"))
    # the owner's accounts: A (1000 from September, +200 in November) and D (new, 300)
    assert waterfall["2026-11"]["opening_mrr"] == 1000 and waterfall["2026-11"]["closing_mrr"] == 1500
    assert waterfall["2026-11"]["churn"] == 0
    team = read(owner, "team.people")
    assert [r[2] for r in team["rows"]] == ["owner"]
    assert read(owner, "quality.recall")["no_data"]  # company-wide figures: not for a segment of it
    assert read(owner, "value.economics")["no_data"]
    segment = rows_by(read(None, "revenue.waterfall", segment=Segment(industry="零售")))
    assert segment["2026-11"]["new"] == 300 and "2026-09" not in segment


def test_early_warning_quality_from_the_stored_backtest_and_model(world, boss):
    assert read(boss, "quality.recall")["no_data"].startswith("No backtest has been run yet")
    assert read(boss, "quality.calibration")["no_data"].startswith("No churn model has been trained yet")
    early = {"min_lead_days": 90, "horizon_days": 180, "churners": 10, "churners_flagged_before": 8,
             "churners_flagged_in_time": 6, "recall_in_time": 0.6, "flagged": 20, "flags_judged": 16,
             "flags_followed_by_churn": 8, "precision": 0.5,
             "lead_days": {"mean": 120, "p10": 30, "p25": 75, "p50": 110, "p75": 160, "p90": 200}}
    calibration = [{"bin": 1, "count": 50, "low": 0, "high": 0.1, "mean_predicted": 0.05, "observed_rate": 0.04},
                   {"bin": 2, "count": 50, "low": 0.1, "high": 0.9, "mean_predicted": 0.4, "observed_rate": 0.5}]
    report = {"start": "2026-01-04", "end": "2026-06-28", "step_days": 28, "steps": 7, "observed_until": "2026-12-07",
              "early_warning": early, "point_in_time": {"judged": 400, "followed_by_churn": 100, "precision": 0.25},
              "by_signal": {"login_drop": {**early, "churners_flagged_in_time": 3, "recall_in_time": 0.3}},
              "by_level": {"high": {"precision": 0.4}},
              "model": {"roc_auc": 0.8, "brier": 0.1, "base_rate": 0.1, "calibration": calibration}}
    BacktestResult.objects.create(start=dt.date(2026, 1, 4), end=dt.date(2026, 6, 28), step_days=28, min_lead_days=90,
                                  horizon_days=180, report=report)
    recall = read(boss, "quality.recall")
    assert recall["rows"] == [["any", 10, 6, 0.6, 20, 8, 0.5], ["login_drop", 10, 3, 0.3, 20, 8, 0.5]]
    assert recall["point_in_time"] == {"precision": 0.25, "judged": 400, "followed_by_churn": 100}
    assert recall["levels"] == {"high": 0.4} and recall["backtest"]["horizon_days"] == 180
    assert read(boss, "quality.lead_time")["rows"] == [["p10", 30], ["p25", 75], ["p50", 110], ["p75", 160], ["p90", 200]]
    cal = read(boss, "quality.calibration")
    assert cal["source"] == "backtest" and cal["rows"] == [[1, 50, 0.05, 0.04], [2, 50, 0.4, 0.5]]
    # without a model in the backtest: the validation `clm train` stored with the active model
    BacktestResult.objects.update(report={**report, "model": None})
    ChurnModel.objects.create(version="v1", kind="logistic", trained_at=timezone.now(), horizon_days=180, active=True,
                              payload=b"", metadata={"validation": {"roc_auc": 0.7, "calibration": calibration[:1]}})
    cal = read(boss, "quality.calibration")
    assert (cal["source"], cal["rows"], cal["model"]) == ("training", [[1, 50, 0.05, 0.04]], "v1")


def test_figures_say_why_they_are_empty(db, boss):
    for key in sorted(service.CHARTS):
        figure = read(boss, key)
        if key in ("team.people", "flows.returns"):
            continue
        assert figure["rows"] == [] and figure["no_data"], key


def test_a_default_signal_reads_its_catalogue_name_whatever_title_the_workspace_stored():
    """The quality tab's chart in Chinese showed the churn model's signal by its stored English title."""
    from django.utils import translation

    from clm.reports.charts import labels

    stored = {"churn_risk_high": "The churn model puts the risk above its flag threshold", "mine": "我的信号"}
    with translation.override("zh-hans"):
        assert labels.value("signal", "churn_risk_high", stored) == "流失风险高"
        assert labels.value("signal", "mine", stored) == "我的信号"  # a workspace's own signal keeps its title
    with translation.override("en"):
        assert labels.value("signal", "churn_risk_high", stored) == "High churn risk"
