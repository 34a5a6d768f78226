"""The backtest: replay history as of each step and measure how early and how rightly the early
warning spoke, and how well the churn model ranked and calibrated its risks.

`run` writes nothing; `store` keeps a report (the command stores each one it prints) for the
dashboards' early-warning charts. At each step the engine assesses every account as of that day,
from what was known then (clm.lifecycle.metrics); an account with a live contract and a churn
warning (level 3: clm.analytics.warning.warning_levels, flags) is flagged. Churn is read from the
contract ledger (an account's last live contract ended). The measures come from
clm.analytics.evaluation, the same functions the churn model's training and the public Telco
check use. With a churn model, the report adds the precision–recall curve of flagging on its risk
alone at other thresholds, the lead times of flagging on its risk alone at its threshold
(``model_lead_time``, and ``model`` within each period), and the point-in-time precision per
warning level. The dates after the model's training date are out of time.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field

import pandas as pd

from clm.analytics import warning
from clm.analytics.evaluation import (
    CurvePoint,
    FlagPrecision,
    LeadTimeReport,
    ScoreReport,
    churn_scope,
    evaluate,
    flag_curve,
    flag_precision,
    held_flags,
    lead_time_metrics,
)
from clm.lifecycle import calibration, services
from clm.lifecycle.metrics import check_as_of, today


class BacktestError(ValueError):
    """Dates that cannot be replayed; the message says why."""


@dataclass
class Backtest:
    start: dt.date
    end: dt.date
    step_days: int
    steps: int
    observed_until: dt.date
    early_warning: LeadTimeReport
    point_in_time: FlagPrecision
    by_signal: dict[str, LeadTimeReport]
    model: ScoreReport | None = None
    model_note: str = ""
    health: dict = field(default_factory=dict)  # the health score's calibration (churn rate per band, AUC)
    flags_per_step: list[dict] = field(default_factory=list)
    model_threshold: float | None = None  # the flag threshold chosen when the model was trained
    curve: list[CurvePoint] = field(default_factory=list)  # flagging on the model's risk alone
    # flagging on the model's risk alone at its threshold, confirmed as churn_risk_high confirms:
    # how many churners it caught in time, its precision and its lead times
    model_lead_time: dict | None = None  # as in_sample and out_of_time, over the whole window
    by_level: dict[str, FlagPrecision] = field(default_factory=dict)  # point in time, per warning level
    # the early warning on the dates the flag threshold was chosen on, and on the later ones
    in_sample: dict | None = None
    out_of_time: dict | None = None
    split: dt.date | None = None  # the last as-of date of the model's training history

    def to_dict(self) -> dict:
        out = asdict(self)
        for key in ("start", "end", "observed_until"):
            out[key] = out[key].isoformat()
        out["early_warning"]["point_in_time"] = out["point_in_time"]
        out["early_warning"]["in_sample"] = out.pop("in_sample")
        out["early_warning"]["out_of_time"] = out.pop("out_of_time")
        out["early_warning"]["split"] = out.pop("split")
        return out


def parse_step(text: str) -> int:
    """'7d', '2w' or '14' → days."""
    value = str(text).strip().lower()
    unit = 1
    if value.endswith("w"):
        unit, value = 7, value[:-1]
    elif value.endswith("d"):
        value = value[:-1]
    if not value.isdigit() or int(value) < 1:
        raise BacktestError(f"step {text!r} is not a number of days (e.g. 7d, 2w)")
    return int(value) * unit


def step_dates(start: dt.date, end: dt.date, step_days: int) -> list[dt.date]:
    if start > end:
        raise BacktestError(f"--from {start} is after --to {end}")
    check_as_of(end)
    dates, day = [], start
    while day <= end:
        dates.append(day)
        day += dt.timedelta(days=step_days)
    return dates


def run(
    start: dt.date,
    end: dt.date,
    step_days: int = 7,
    *,
    min_lead_days: int = 90,
    horizon_days: int = 180,
    progress=None,
) -> Backtest:
    dates = step_dates(start, end, step_days)
    observed_until = today()
    config = (services.health_models(), services.stage_rules(), services.signal_set())
    model_row, learned = services.active_churn_model()
    events = services.churn_events()
    churns = events[events["event"] == "churn"]

    signal_set = config[2]
    first_any: dict[int, pd.Timestamp] = {}
    first_kind: dict[str, dict[int, pd.Timestamp]] = {kind: {} for kind in signal_set.kinds}
    flagged_days = []
    level_days = []
    scored_rows = []
    health_rows = []
    per_step = []
    open_since = pd.DataFrame(
        {"account": [], "kind": pd.Series(dtype=object), "opened_on": pd.Series(dtype="datetime64[ns]")}
    )
    for day in dates:
        result = services.assess(
            day,
            open_since=open_since,
            with_stages=False,
            with_risk=learned is not None,
            learned=learned,
            config=config,
        )
        stamp = pd.Timestamp(day)
        open_since = _carry(open_since, result.firing, stamp)
        live = result.metrics["subscriptions_active"] > 0
        flagging = warning.flags(result.metrics["warning_level"])
        flagged = result.metrics.index[live & flagging]
        for account in flagged:
            first_any.setdefault(int(account), stamp)
        flagged_days.append(pd.DataFrame({"account": flagged, "date": stamp}))
        warned = result.metrics.index[live & (result.metrics["warning_level"] >= 2)]
        level_days.append(
            pd.DataFrame({"account": warned, "date": stamp, "level": result.metrics.loc[warned, "warning_level"]})
        )
        held = warning.confirmed(result.firing, open_since, stamp, signal_set)
        held = held[held["account"].isin(result.metrics.index[live])]
        for kind, group in held.groupby("kind"):
            for account in group["account"]:
                first_kind[kind].setdefault(int(account), stamp)
        health_rows.append(calibration.step_rows(result, live))
        per_step.append({"date": day.isoformat(), "live": int(live.sum()), "flagged": int(len(flagged))})
        if result.risk is not None and len(result.risk):
            scored_rows.append(result.risk[["probability"]].assign(as_of=stamp))
        if progress:
            progress(day)

    # churners whose churn a flag 90 days ahead could have caught within the replayed window
    in_scope, out_of_scope = churn_scope(
        churns.set_index("account")["date"],
        start,
        end,
        min_lead_days=min_lead_days,
        observed_until=observed_until,
    )

    def report(flags: dict[int, pd.Timestamp]) -> LeadTimeReport:
        flagged = pd.Series({a: d for a, d in flags.items() if a not in out_of_scope}, dtype="datetime64[ns]")
        return lead_time_metrics(
            flagged,
            in_scope,
            min_lead_days=min_lead_days,
            horizon_days=horizon_days,
            observed_until=observed_until,
        )

    next_churn = in_scope
    every_flag = pd.concat(flagged_days, ignore_index=True)
    all_flags = every_flag
    all_flags = all_flags[~all_flags["account"].isin(out_of_scope)]
    point_in_time = flag_precision(
        all_flags, next_churn, horizon_days=horizon_days, observed_until=observed_until
    )
    model_report, note = None, "no active churn model: train one with `clm train`"
    curve, by_level, threshold, model_lead, scores = [], {}, None, None, None
    model_confirm_days = signal_set.confirm_days_of(warning.MODEL_SIGNAL)
    if model_row is not None:
        model_report, note = _model_report(scored_rows, churns, observed_until, model_row)
        threshold = model_row.metadata.get("warning", {}).get("threshold")
        if scored_rows:
            scores = pd.concat(scored_rows).rename_axis("account").reset_index()
            scores = scores.rename(columns={"probability": "score"})
            curve = flag_curve(
                scores[~scores["account"].isin(out_of_scope)],
                in_scope,
                include=[threshold] if threshold is not None else [],
                confirm_days=model_confirm_days,
                min_lead_days=min_lead_days,
                horizon_days=horizon_days,
                observed_until=observed_until,
            )
    split = _training_end(model_row)
    judge = {"min_lead_days": min_lead_days, "horizon_days": horizon_days, "observed_until": observed_until}
    model_flags = None
    if scores is not None and threshold is not None:
        model_flags = held_flags(scores, threshold, model_confirm_days).rename(columns={"as_of": "date"})
        model_lead = _period(model_flags, churns, start, end, **judge)
    parts = {"in_sample": None, "out_of_time": None}
    if split is not None:
        periods = {"in_sample": (start, min(end, split)), "out_of_time": (max(start, split + dt.timedelta(days=1)), end)}
        for name, (first, last) in periods.items():
            parts[name] = _period(every_flag, churns, first, last, **judge)
            if parts[name] is not None and model_flags is not None:
                parts[name]["model"] = _period(model_flags, churns, first, last, **judge)
    levels = pd.concat(level_days, ignore_index=True)
    levels = levels[~levels["account"].isin(out_of_scope)]
    for level in (2, 3):
        by_level[warning.LEVELS[level]] = flag_precision(
            levels[levels["level"] == level],
            next_churn,
            horizon_days=horizon_days,
            observed_until=observed_until,
        )
    return Backtest(
        start=start,
        end=end,
        step_days=step_days,
        steps=len(dates),
        observed_until=observed_until,
        early_warning=report(first_any),
        point_in_time=point_in_time,
        by_signal={kind: report(flags) for kind, flags in first_kind.items()},
        model=model_report,
        model_note=note,
        flags_per_step=per_step,
        health=calibration.report(
            pd.concat(health_rows, ignore_index=True),
            churns,
            horizon_days=horizon_days,
            observed_until=observed_until,
        ).to_dict(),
        model_threshold=threshold,
        curve=curve,
        model_lead_time=model_lead,
        by_level=by_level,
        in_sample=parts["in_sample"],
        out_of_time=parts["out_of_time"],
        split=split,
    )


def _training_end(model_row) -> dt.date | None:
    """The active model's training date: it learnt, and its flag threshold was chosen, on what was
    known then; later dates are out of time. (Models stored before the training date was kept: the
    last as-of date of their training history.)"""
    metadata = (model_row.metadata or {}) if model_row is not None else {}
    if metadata.get("as_of"):
        return dt.date.fromisoformat(metadata["as_of"])
    window = metadata.get("window")
    return dt.date.fromisoformat(window[1]) if window else None


def _period(
    flags: pd.DataFrame, churns: pd.DataFrame, start, end, *, min_lead_days, horizon_days, observed_until
):
    """The early warning judged on the replayed dates in [start, end] alone: each account's first
    flag within them, the churners a flag then could have caught, the flags' precision per account
    and point in time. None when no replayed date falls within."""
    if start > end:
        return None
    stamps = pd.to_datetime(flags["date"])
    within = flags[(stamps >= pd.Timestamp(start)) & (stamps <= pd.Timestamp(end))]
    in_scope, out_of_scope = churn_scope(
        churns.set_index("account")["date"],
        start,
        end,
        min_lead_days=min_lead_days,
        observed_until=observed_until,
    )
    within = within[~within["account"].isin(out_of_scope)]
    first = within.groupby("account")["date"].min()
    lead = lead_time_metrics(
        first, in_scope, min_lead_days=min_lead_days, horizon_days=horizon_days, observed_until=observed_until
    )
    now = flag_precision(within, in_scope, horizon_days=horizon_days, observed_until=observed_until)
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "churners": lead.churners,
        "churners_flagged_in_time": lead.churners_flagged_in_time,
        "recall_in_time": lead.recall_in_time,
        "recall_in_time_ci": lead.recall_in_time_ci,
        "flagged": lead.flagged,
        "flags_judged": lead.flags_judged,
        "flags_followed_by_churn": lead.flags_followed_by_churn,
        "precision": lead.precision,
        "precision_ci": lead.precision_ci,
        "point_in_time": {"judged": now.judged, "precision": now.precision},
        "lead_days": lead.lead_days,
    }
def store(report: Backtest):
    """Keep ``report`` as JSON (the latest one is what the early-warning dashboard shows)."""
    from clm.lifecycle.models import BacktestResult

    data = json.loads(json.dumps(report.to_dict(), default=str))
    return BacktestResult.objects.create(
        start=report.start, end=report.end, step_days=report.step_days,
        min_lead_days=report.early_warning.min_lead_days, horizon_days=report.early_warning.horizon_days,
        report=data,
    )


def _carry(open_since: pd.DataFrame, firing: pd.DataFrame, stamp: pd.Timestamp) -> pd.DataFrame:
    """The signals open after a step: those firing, with the day each opened (as the daily run's
    reconciliation keeps them: one per kind and account, closed when they stop firing)."""
    now = firing[["account", "kind"]].drop_duplicates()
    if open_since.empty:  # nothing open before: an empty frame's columns have no type to join on
        return now.assign(opened_on=stamp)
    carried = now.merge(open_since, on=["account", "kind"], how="left")
    carried["opened_on"] = pd.to_datetime(carried["opened_on"]).fillna(stamp)
    return carried


def _model_report(scored_rows, churns, observed_until, model_row):
    """ROC AUC and calibration of the model's risk over the steps whose outcome is known, leaving
    out the steps up to its training date (it learnt from them: they would flatter it)."""
    horizon = model_row.horizon_days
    known = model_row.metadata.get("as_of") or model_row.metadata.get("validation_window", [None])[0]
    trained_until = pd.Timestamp(known or "1900-01-01")
    if not scored_rows:
        return None, "the model scored no account with a live contract"
    rows = pd.concat(scored_rows).rename_axis("account").reset_index()
    rows = rows[rows["as_of"] > trained_until]
    known = rows["as_of"] + pd.Timedelta(days=horizon) <= pd.Timestamp(observed_until)
    rows = rows[known]
    if rows.empty:
        return None, (
            f"no step after the model's training date ({trained_until.date()}) has a known "
            f"{horizon}-day outcome yet"
        )
    merged = rows.merge(churns[["account", "date"]], on="account", how="left")
    merged["hit"] = (merged["date"] > merged["as_of"]) & (
        merged["date"] <= merged["as_of"] + pd.Timedelta(days=horizon)
    )
    label = merged.groupby(["account", "as_of"])["hit"].any()
    scores = rows.set_index(["account", "as_of"])["probability"].loc[label.index]
    note = f"steps after {trained_until.date()} (the model's training date; earlier steps were training data)"
    return evaluate(label.astype(int).to_numpy(), scores.to_numpy()), note
