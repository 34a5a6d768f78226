"""Early-warning quality: how far ahead the warnings see and how often they are right — the
latest stored backtest (`clm backtest`: recall in time, precision per account and per replayed
day, lead times) and the churn model's calibration (`clm backtest` when it scored the model, else
the validation `clm train` stored). Company-wide figures: the backtest replays every account."""

from __future__ import annotations

from django.utils.translation import gettext as _

from clm.lifecycle.models import BacktestResult, ChurnModel

from ..figures import figure
from .base import empty, make

ANY = "any"
QUANTILES = ("p10", "p25", "p50", "p75", "p90")


def company_only() -> str:
    return _("The backtest replays the whole company: its figures are shown without a segment, to those "
             "who see every account.")


def no_backtest() -> str:
    return _("No backtest has been run yet (run “clm backtest --from … --to …”).")


def _latest(scope):
    return scope.memo("backtest", lambda: BacktestResult.objects.first())


def _about(result) -> dict:
    r = result.report
    return {"backtest": {"start": r["start"], "end": r["end"], "step_days": r["step_days"],
                         "observed_until": r["observed_until"], "ran_at": result.ran_at.isoformat(),
                         "min_lead_days": result.min_lead_days, "horizon_days": result.horizon_days}}


@figure("quality.recall")
def recall(scope, period) -> dict:
    """Per signal (and any signal): churners, those flagged at least the lead days ahead (recall in
    time), accounts flagged and the share followed by churn within the horizon (precision)."""
    columns = ["signal", "churners", "flagged_in_time", "recall_in_time", "flagged", "followed_by_churn",
               "precision"]
    if not scope.company_wide:
        return empty(scope, period, columns, company_only())
    result = _latest(scope)
    if result is None:
        return empty(scope, period, columns, no_backtest())
    r = result.report

    def row(kind, e):
        return [kind, e["churners"], e["churners_flagged_in_time"], e["recall_in_time"], e["flagged"],
                e["flags_followed_by_churn"], e["precision"]]

    rows = [row(ANY, r["early_warning"]), *(row(k, e) for k, e in r["by_signal"].items())]
    pit = r["point_in_time"]
    levels = {name: level["precision"] for name, level in r.get("by_level", {}).items()}
    return make(scope, period, columns, rows, **_about(result),
                point_in_time={"precision": pit["precision"], "judged": pit["judged"],
                               "followed_by_churn": pit["followed_by_churn"]}, levels=levels)


@figure("quality.lead_time")
def lead_time(scope, period) -> dict:
    """Days from an account's first flag to its churn: quantiles over the churners flagged."""
    columns = ["quantile", "days"]
    if not scope.company_wide:
        return empty(scope, period, columns, company_only())
    result = _latest(scope)
    if result is None:
        return empty(scope, period, columns, no_backtest())
    lead = result.report["early_warning"]["lead_days"]
    if not lead:
        return empty(scope, period, columns, _("No churner was flagged before churning in the backtest."))
    rows = [[q, lead[q]] for q in QUANTILES if q in lead]
    return make(scope, period, columns, rows, mean=lead.get("mean"), **_about(result))


@figure("quality.calibration")
def calibration(scope, period) -> dict:
    """The churn model's calibration: per decile of predicted risk, the mean prediction against the
    share that churned (a calibrated model lies on the diagonal)."""
    columns = ["bin", "count", "mean_predicted", "observed_rate"]
    if not scope.company_wide:
        return empty(scope, period, columns, company_only())
    result = _latest(scope)
    model = result.report.get("model") if result else None
    extra, source = {}, "backtest"
    if model:
        extra = _about(result)
    else:
        active = ChurnModel.objects.filter(active=True).first()
        model = (active.metadata or {}).get("validation") if active else None
        source = "training"
        if not model:
            return empty(scope, period, columns, _("No churn model has been trained yet (run “clm train”)."))
        extra = {"model": active.version}
    rows = [[b["bin"], b["count"], b["mean_predicted"], b["observed_rate"]] for b in model["calibration"]]
    return make(scope, period, columns, rows, source=source, roc_auc=model.get("roc_auc"),
                brier=model.get("brier"), base_rate=model.get("base_rate"), **extra)
