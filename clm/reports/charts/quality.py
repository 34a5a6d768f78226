"""Early-warning quality: how far ahead the warnings see and how often they are right — the
latest stored backtest (`clm backtest`: recall in time, precision per account and per replayed
day, lead times) and the churn model's calibration (`clm backtest` when it scored the model, else
the validation `clm train` stored). Those are company-wide figures of a fixed replay: the backtest
replays every account over its own dates, so neither the period nor a segment narrows them (the
page says so beside them). `quality.churners` is the one that follows the filters: the period's
churners in the scope, and how far ahead the warnings the daily runs stored had flagged them."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from django.utils.translation import gettext as _

from clm.analytics.evaluation import lead_time_metrics
from clm.customers.models import WarningLevel
from clm.lifecycle.churns import events_of as churn_events_of
from clm.lifecycle.models import AccountWarning, BacktestResult, ChurnModel

from ..figures import figure
from .base import empty, make

ANY = "any"
MIN_LEAD_DAYS = 90  # a warning in time: at least this many days ahead (clm backtest's default)
LOOK_BACK_DAYS = 365  # the warnings that count for a churner: those of the year before it churned
OUTCOMES = ("in_time", "late", "not_warned")
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
                               "followed_by_churn": pit["followed_by_churn"]}, levels=levels,
                flags_judged=r["early_warning"].get("flags_judged"))  # the precision's denominator


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


@figure("quality.churners")
def churners(scope, period) -> dict:
    """The period's churners among the scope's accounts (an account's last live contract ended in
    the period, clm.lifecycle.churns) by whether the daily runs had warned about them — a churn
    warning (level 3, AccountWarning) in the year before — at least MIN_LEAD_DAYS ahead, later, or
    not at all; recall in time and lead-time quantiles through clm.analytics.evaluation."""
    columns = ["outcome", "churners", "share"]
    as_of = period.as_of(scope.today)
    # an event depends on the ledger up to its day only: read it once per scope, cut per period
    events = scope.memo("churn events", lambda: churn_events_of(scope.changes.rename(columns={
        "subscription_id": "subscription", "account_id": "account", "effective_date": "date",
        "status_after": "status"})))  # the scope's own ledger: an account's events depend on its rows alone
    events = events[(events["event"] == "churn") & (events["date"] >= pd.Timestamp(period.start))
                    & (events["date"] <= pd.Timestamp(as_of))]
    visible = set(scope.accounts.filter(pk__in=[int(a) for a in events["account"].unique()])
                  .values_list("pk", flat=True))
    churned = events[events["account"].isin(visible)].groupby("account")["date"].max()
    if churned.empty:
        return empty(scope, period, columns, _("No account churned in %(period)s.") % {"period": period.label},
                     min_lead_days=MIN_LEAD_DAYS)
    warned = pd.DataFrame.from_records(
        list(scope.records(AccountWarning.objects.filter(
            account_id__in=[int(a) for a in churned.index], level__gte=WarningLevel.CHURN_WARNING,
            as_of__gte=period.start - dt.timedelta(days=LOOK_BACK_DAYS), as_of__lte=as_of,
        )).order_by().values_list("account_id", "as_of")), columns=["account", "as_of"])
    warned["as_of"] = pd.to_datetime(warned["as_of"])
    warned = warned[warned["as_of"] <= warned["account"].map(churned)]
    warned = warned[warned["as_of"] >= warned["account"].map(churned) - pd.Timedelta(days=LOOK_BACK_DAYS)]
    first = warned.groupby("account")["as_of"].min().reindex(churned.index)
    report = lead_time_metrics(first, churned, min_lead_days=MIN_LEAD_DAYS)
    lead = (churned - first).dt.days
    outcome = pd.Series("not_warned", index=churned.index)
    outcome[lead.notna()] = "late"
    outcome[lead >= MIN_LEAD_DAYS] = "in_time"
    rows, groups = [], {}
    for name in OUTCOMES:
        behind = outcome.index[outcome == name]
        rows.append([name, len(behind), len(behind) / len(outcome)])
        groups[name] = behind
    return make(scope, period, columns, rows, groups=groups, recall_in_time=report.recall_in_time,
                lead_days=report.lead_days, min_lead_days=MIN_LEAD_DAYS)
