"""`clm simulate` and `clm demo` from the command line: the build, the printed login, bad input."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from clm.analytics import health, tiers
from clm.core.models import User, Workspace
from clm.customers.models import Account
from clm.demo.models import TrueState
from clm.lifecycle.models import HealthModel, HealthScore, RuleSet
from clm.value.models import TierRule


def run(*args, **options):
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO(), **options)
    return out.getvalue()


@pytest.mark.django_db
def test_demo_builds_the_company_and_prints_the_url_and_login():
    text = run(
        "demo", "--accounts", "30", "--months", "6", "--as-of", "2025-06-30", "--no-serve", "--port", "8123"
    )
    assert "http://127.0.0.1:8123/" in text
    assert "admin" in text and "clm-demo-2026" in text
    assert "Lifecycle computations: configuration, search keys, lifecycle history" in text
    # six months are too short to train on: it says so instead of a model's validation
    assert "No churn model: " in text and "Health, stages and signals run without it." in text
    # the settings the engine ran on are rows the admin can edit
    assert Workspace.objects.count() == HealthModel.objects.count() == 1
    assert TierRule.objects.count() == len(tiers.DEFAULT_TIERS)
    assert set(RuleSet.objects.values_list("kind", flat=True)) == {"stages", "signals"}
    assert HealthModel.objects.get().parsed().name == health.DEFAULT_MODEL.name
    assert Account.objects.count() == TrueState.objects.count() == 30
    # a year of history replayed (as far as the 6 months go back), and today's run
    scored_days = set(HealthScore.objects.values_list("as_of", flat=True))
    assert dt.date(2025, 6, 30) in scored_days and len(scored_days) >= 6
    assert not Account.objects.filter(lifecycle_stage_since__isnull=True).exists()
    assert User.objects.get(username="admin").check_password("clm-demo-2026")
    # the dashboard pages' history: CLV and tiers on the first of each past month, a stored backtest
    from clm.lifecycle.models import BacktestResult
    from clm.value.models import CLVEstimate, TierAssignment

    firsts = {d for d in CLVEstimate.objects.values_list("as_of", flat=True) if d.day == 1}
    assert {dt.date(2025, m, 1) for m in (2, 4, 6)} <= firsts
    assert TierAssignment.objects.filter(as_of=dt.date(2025, 6, 1)).exists()
    stored = BacktestResult.objects.get()
    assert (stored.start, stored.end, stored.step_days) == (dt.date(2024, 7, 29), dt.date(2025, 6, 2), 28)
    assert "dashboards (value history, early-warning backtest)" in text
    # the dashboards' snapshots are stored after the value history, the programmes and the
    # targets: May's customer equity reads the CLV of 1 May, not "no estimate before today"
    from clm.reports.kpis.base import Scope
    from clm.reports.periods import Period
    from clm.reports.snapshots import kpi_results

    may = kpi_results(Scope(None, today=dt.date(2025, 6, 30)), Period.parse("2025-05"))
    assert may["customer_equity"].value > 0 and "dashboard snapshots" in text


@pytest.mark.django_db
def test_demo_replaces_existing_customer_data():
    Account.objects.create(name="老客户")
    run("demo", "--accounts", "20", "--months", "3", "--as-of", "2025-06-30", "--no-serve")
    assert not Account.objects.filter(name="老客户").exists()
    assert Account.objects.count() == 20


@pytest.mark.django_db
def test_demo_keeps_an_existing_admin_but_resets_the_demo_password():
    User.objects.create_user("admin", password="something-else")
    run("demo", "--accounts", "10", "--months", "3", "--as-of", "2025-06-30", "--no-serve")
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.check_password("clm-demo-2026")


@pytest.mark.django_db
def test_simulate_reports_the_rows_it_wrote():
    text = run("simulate", "--accounts", "25", "--months", "4", "--seed", "3", "--as-of", "2025-06-30")
    assert "Built 25 accounts over 4 months" in text and "2025-06-30" in text
    assert "customers.Account" in text and "usage.UsageDaily" in text


@pytest.mark.django_db
def test_simulate_refuses_to_write_over_customers_without_wipe():
    Account.objects.create(name="老客户")
    with pytest.raises(CommandError, match="pass --wipe"):
        run("simulate", "--accounts", "5", "--months", "2", "--as-of", "2025-06-30")
    assert Account.objects.count() == 1
    run("simulate", "--accounts", "5", "--months", "2", "--as-of", "2025-06-30", "--wipe")
    assert Account.objects.count() == 5


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--accounts", "0"], "--accounts 0: must be between 1"),
        (["--months", "500"], "--months 500: must be between 1 and 120"),
        (["--as-of", "2025-13-01"], "'2025-13-01' is not a date"),
        (["--as-of", "1999-12-31"], "--as-of 1999-12-31"),
        (["--as-of", "2099-01-01"], "nothing is simulated in the future"),
        (["--accounts", "many"], "invalid int value: 'many'"),
        (["--raw-event-days", "-1"], "--raw-event-days -1"),
    ],
)
def test_simulate_rejects_bad_arguments_with_a_message_naming_them(args, message):
    with pytest.raises(CommandError, match=message):
        run("simulate", "--wipe", *args)
    assert not Account.objects.exists()


@pytest.mark.django_db
def test_demo_rejects_a_port_that_is_not_a_port_before_building():
    with pytest.raises(CommandError, match="--port 70000"):
        run("demo", "--port", "70000", "--no-serve")
    assert not Account.objects.exists()


def test_the_demo_reports_the_quality_its_churn_model_reached():
    from rich.console import Console

    from clm.demo.console import show_model_quality
    from clm.demo.services import AfterBuild
    from clm.lifecycle.models import ChurnModel

    # the metadata clm.lifecycle.training.train stores with each model
    model = ChurnModel(version="gbm-2026-12-07", horizon_days=90, metadata={
        "validation": {"roc_auc": 0.9312, "brier": 0.04127}, "rows": {"train": 8000, "validation": 2400},
        "positives": {"train": 310, "validation": 95},
    })
    out = StringIO()
    show_model_quality(Console(file=out, width=200), AfterBuild(steps=["churn model"], model=model))
    assert out.getvalue().strip() == (
        "Churn model gbm-2026-12-07: validated on 2,400 later snapshots (95 churned within 90 days): "
        "ROC AUC 0.931, Brier 0.0413."
    )
