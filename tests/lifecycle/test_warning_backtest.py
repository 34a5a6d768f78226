"""The early warning with the churn model on a small simulated company: `clm train` chooses the
flag threshold on the training history, and `clm backtest` reports the flags it raises, their
lead times, the precision–recall curve of flagging on the risk and the precision per level."""

import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.utils import timezone

from clm.demo.simulator import simulate
from clm.lifecycle import training
from clm.lifecycle.models import ChurnModel

pytestmark = pytest.mark.slow


def test_train_chooses_a_threshold_and_the_backtest_reports_its_flags_and_curve(db):
    today = timezone.localdate()
    # three years: trained eight months ago, the out-of-time check still has a year to learn from
    # before its 180-day gap and validation dates
    simulate(accounts=240, months=36, seed=3, as_of=today)
    # trained as if on a day eight months ago: it learns only what was known then, and the
    # backtest's dates after it are out of time
    trained_on = today - dt.timedelta(days=240)
    model = training.train(as_of=trained_on, step_days=14)
    assert model.metadata["as_of"] == trained_on.isoformat()
    assert model.metadata["window"][1] == (trained_on - dt.timedelta(days=180)).isoformat()
    warning = model.metadata["warning"]
    assert warning["target_precision"] == training.TARGET_PRECISION and warning["confirm_days"] == 7
    assert 0 < warning["threshold"] < 1 and warning["precision"] >= training.TARGET_PRECISION
    # the threshold chosen is the lowest with the best recall among those reaching the target
    reaching = [p for p in warning["curve"] if (p["precision"] or 0) >= warning["target_precision"]]
    assert warning["recall_in_time"] == max(p["recall_in_time"] for p in reaching)

    start, end = today - dt.timedelta(days=730 - 120), today - dt.timedelta(days=114)
    args = ["backtest", "--from", start.isoformat(), "--to", end.isoformat(), "--step", "4w"]
    out = io.StringIO()
    call_command(*args, "--json", stdout=out, stderr=io.StringIO())
    report = json.loads(out.getvalue())
    early = report["early_warning"]
    assert {"recall_in_time", "precision", "lead_days"} <= set(early)
    assert early["point_in_time"] == report["point_in_time"] and "precision" in early["point_in_time"]
    assert (
        report["model_threshold"]
        == warning["threshold"]
        == ChurnModel.objects.get(active=True).metadata["warning"]["threshold"]
    )
    # the model flags, with its lead times; the early warning flags where the evidence corroborates
    # a confirmed signal (warning level high: clm.analytics.warning.flags), so not every account
    # the model's signal alone confirmed
    by_model = report["by_signal"]["churn_risk_high"]
    assert 0 < by_model["flagged"] and 0 < early["flagged"] and by_model["lead_days"]["p50"] > 0
    assert early["recall_in_time_ci"][0] <= early["recall_in_time"] <= early["recall_in_time_ci"][1]
    # the trade-off: raising the threshold flags fewer accounts and catches fewer churners in time
    curve = report["curve"]
    assert [p["threshold"] for p in curve] == sorted(p["threshold"] for p in curve)
    assert (
        curve[0]["flagged"] >= curve[-1]["flagged"]
        and curve[0]["recall_in_time"] >= curve[-1]["recall_in_time"]
    )
    assert set(report["by_level"]) == {"at_risk", "high"}
    # the threshold judged on the dates up to the training date and on the later ones
    assert early["split"] == trained_on.isoformat()
    for part in ("in_sample", "out_of_time"):
        assert {"recall_in_time", "precision", "point_in_time", "churners", "from", "to"} <= set(early[part])
        # and the model alone at its threshold, with its lead times
        assert {"recall_in_time", "precision", "lead_days", "churners"} <= set(early[part]["model"])
    alone = report["model_lead_time"]
    assert alone["flagged"] > 0 and alone["lead_days"]["p50"] > 0
    assert early["in_sample"]["to"] == early["split"] < early["out_of_time"]["from"]

    text = io.StringIO()
    call_command(*args, stdout=text, stderr=io.StringIO())
    assert "Flagging on the churn model's risk alone, by threshold" in text.getvalue()
    assert "◀" in text.getvalue() and "churn_risk_high" in text.getvalue()
    assert "out of time (" in text.getvalue()
    assert "Churn model alone at its threshold, out of time: recall" in text.getvalue()
