"""`clm run`, `clm train` and `clm backtest` on the command line: output, JSON, and bad input."""

import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from clm.lifecycle.models import HealthScore, Run

from .conftest import AS_OF


def run_command(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_clm_run_prints_a_summary(world):
    out = run_command("run", "--as-of", AS_OF.isoformat())
    # Shop buys without a contract and has no usage, contacts or answers on record: too little
    # data for a score (the components with data carry less than half the weight)
    assert "Daily run for 2024-06-30: 3 accounts, 1 scored" in out
    assert "Signals:" in out and "Churn risk: no active model (clm train)." in out
    assert "Warning levels: watch 1" in out  # Acme on the first day: signals fire, none confirmed yet
    assert HealthScore.objects.filter(as_of=AS_OF).count() == 1 and Run.objects.get().status == "done"


def test_clm_run_refuses_a_future_date(db):
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    with pytest.raises(CommandError, match=f"as-of date {tomorrow} is in the future"):
        run_command("run", "--as-of", tomorrow)
    with pytest.raises(CommandError, match="'30/06/2024' is not a date"):
        run_command("run", "--as-of", "30/06/2024")


def test_clm_train_says_when_the_history_is_too_short(world):
    with pytest.raises(CommandError, match="not enough history|training window is empty|no as-of date"):
        run_command("train")


def test_clm_backtest_prints_a_table_and_json(world):
    out = run_command("backtest", "--from", "2024-06-02", "--to", AS_OF.isoformat(), "--step", "2w")
    assert "Backtest 2024-06-02 – 2024-06-30, every 14 days (3 steps)" in out
    assert "any signal" in out and "usage_decline" in out and "Point in time:" in out
    report = json.loads(
        run_command("backtest", "--from", "2024-06-02", "--to", AS_OF.isoformat(), "--step", "14", "--json")
    )
    assert report["steps"] == 3 and report["early_warning"]["churners"] == 0
    assert report["flags_per_step"][-1] == {"date": "2024-06-30", "live": 1, "flagged": 1}
    assert set(report["by_signal"]) >= {"login_drop", "health_red"}
    assert report["health"]["rows"] == 3 and report["health"]["thresholds"] == {"green": 75.0, "yellow": 60.0}
    assert "Health score for churn within 180 days" in out
    # each run is kept for the early-warning dashboard: the latest is the --json one, as printed
    from clm.lifecycle.models import BacktestResult

    assert BacktestResult.objects.count() == 2
    stored = BacktestResult.objects.first()
    assert stored.report == report and (stored.step_days, stored.min_lead_days, stored.horizon_days) == (14, 90, 180)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--from", "2024-07-01", "--to", "2024-06-01"], "--from 2024-07-01 is after --to 2024-06-01"),
        (["--from", "2024-06-01", "--to", "2024-06-30", "--step", "0d"], "step '0d' is not a number of days"),
        (
            ["--from", "2024-06-01", "--to", "2024-06-30", "--step", "weekly"],
            "step 'weekly' is not a number of days",
        ),
        (["--from", "2024-06-01", "--to", "2999-01-01"], "as-of date 2999-01-01 is in the future"),
    ],
)
def test_clm_backtest_refuses_bad_options_clearly(db, args, message):
    with pytest.raises(CommandError, match=message):
        run_command("backtest", *args)


def test_clm_health_calibration_shows_red_churning_more_than_green_on_a_simulated_company(db):
    """A simulated company (seed 11, which no default was chosen on): replayed monthly, accounts
    the health score put in red churned within 180 days more often than those in green, and the
    score ranks churners below stayers far better than chance."""
    from clm.demo.simulator import simulate

    today = timezone.localdate()
    simulate(accounts=200, months=20, seed=11, as_of=today)
    start, end = today - dt.timedelta(days=480), today - dt.timedelta(days=200)
    report = json.loads(
        run_command("health_calibration", "--from", start.isoformat(), "--to", end.isoformat(), "--step", "28d", "--json")
    )
    bands = {b["band"]: b for b in report["bands"]}
    assert report["rows"] == sum(b["rows"] for b in bands.values()) and report["churned"] > 0
    assert bands["red"]["churn_rate"] > bands["green"]["churn_rate"]
    assert report["roc_auc"] > 0.65
    text = run_command("health_calibration", "--from", start.isoformat(), "--to", end.isoformat(), "--step", "28d")
    assert "ROC AUC of the score for churn" in text and "red" in text


def test_clm_health_calibration_refuses_bad_options_clearly(db):
    with pytest.raises(CommandError, match="--from 2024-07-01 is after --to 2024-06-01"):
        run_command("health_calibration", "--from", "2024-07-01", "--to", "2024-06-01")
    with pytest.raises(CommandError, match="--horizon must be at least 1 day"):
        run_command("health_calibration", "--from", "2024-06-01", "--to", "2024-06-30", "--horizon", "0")
