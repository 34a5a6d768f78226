"""The lifecycle engine's operations: the daily run (metrics → health → signals → stages → churn
risk → value), the configuration it reads, churn dates from the contract ledger, and the reads
behind the API. The CLI, the API, the task queue and `clm demo` all call these."""

from __future__ import annotations

import datetime as dt
import traceback
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F, Max, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from clm.analytics import health, stages, warning
from clm.analytics.churn import ChurnModel as LearnedModel
from clm.commerce.services import contracts_ended_on
from clm.core import audit, events
from clm.customers.models import Account
from clm.lifecycle import fit as lead_fit
from clm.lifecycle import metrics as metric_source
from clm.lifecycle.churns import churn_events  # noqa: F401  (read by training, backtests, plays)
from clm.lifecycle.models import (
    AccountWarning,
    ChurnModel,
    ChurnPrediction,
    HealthModel,
    HealthScore,
    RuleSet,
    Run,
    Signal,
    StageTransition,
)
from clm.value import services as value_services

STEPS = ("metrics", "health", "churn risk", "signals", "stages", "value", "save")
BATCH = 2000

Progress = Callable[[str], None]


# -- configuration ------------------------------------------------------------------------------


def health_models() -> list[health.HealthModel]:
    """The stored models, segments first and the default last (the built-in default when none is stored)."""
    rows = list(HealthModel.objects.all())
    models = [row.parsed() for row in rows]
    segmented = [m for m in models if m.segment is not None]
    defaults = [m for m in models if m.segment is None] or [health.DEFAULT_MODEL]
    chosen = [*segmented, defaults[0]]
    health.validate_segments(chosen, metric_source.KINDS)
    return chosen


def stage_rules() -> stages.StageRules:
    row = RuleSet.objects.filter(kind=RuleSet.Kind.STAGES).first()
    return row.parsed() if row else stages.DEFAULT_STAGE_RULES


def signal_set() -> warning.SignalSet:
    row = RuleSet.objects.filter(kind=RuleSet.Kind.SIGNALS).first()
    return row.parsed() if row else warning.DEFAULT_SIGNALS


def active_churn_model() -> tuple[ChurnModel, LearnedModel] | tuple[None, None]:
    """The active model row and the model, whose metadata carries the row's (with the early
    warning's threshold, chosen after the model was fitted)."""
    row = ChurnModel.objects.filter(active=True).first()
    if row is None:
        return None, None
    learned = LearnedModel.from_bytes(bytes(row.payload))
    learned.metadata = {**learned.metadata, **row.metadata}
    return row, learned


# -- one pass as of a date ----------------------------------------------------------------------


@dataclass
class Assessment:
    """Everything the engine concludes about every account as of a date (nothing written yet)."""

    as_of: dt.date
    metrics: pd.DataFrame  # per account, with health_score, health_band, signals_firing added
    health: pd.DataFrame  # score_segments' output
    explanations: pd.Series  # per scored account, its components as JSON
    firing: pd.DataFrame  # SignalSet.evaluate's output
    stages: pd.DataFrame | None  # StageRules.evaluate's output (None when not asked for)
    risk: pd.DataFrame | None  # probability, factors (None without an active churn model)
    warnings: pd.Series | None = None  # per account warned (level ≥ 1), what the level rests on


def assess(
    as_of: dt.date,
    *,
    previous: pd.DataFrame | None = None,
    open_since: pd.DataFrame | None = None,
    with_stages: bool = True,
    with_risk: bool = True,
    learned: LearnedModel | None = None,
    progress: Progress | None = None,
    config=None,
) -> Assessment:
    """Metrics, health, signals, stages and churn risk for all accounts as of ``as_of``, in memory.
    ``previous``: each account's stage before the date (columns stage, since); read from the
    stored transitions when not given. ``open_since``: the signals open before the date (columns
    account, kind, opened_on), which says how long each has held; read from the stored signals
    when not given. ``learned``: the churn model to score with (the active one when not given;
    a replay passes it once rather than loading it at every step)."""
    step = progress or (lambda name: None)
    models, rules, signals = config or (health_models(), stage_rules(), signal_set())
    step("metrics")
    frame = metric_source.compute(as_of)
    step("health")
    scope = customers(frame)
    scored = health.score_segments(frame[scope], models).reindex(frame.index)
    explanations = _explain(frame, scored, models)
    frame["health_score"] = scored["score_int"].astype(float)
    frame["health_band"] = scored["band"]
    risk = None
    for column in metric_source.DERIVED[
        2:
    ]:  # not known yet (a model trained before they were features reads them missing)
        frame[column] = float("nan")
    if with_risk:  # before the signals: churn_risk_high and the usage rules read it
        step("churn risk")
        if learned is None:
            _, learned = active_churn_model()
        if learned is not None:
            risk = predict(learned, frame)
    frame["churn_risk"] = risk["probability"] if risk is not None else float("nan")
    threshold = learned.metadata.get("warning", {}).get("threshold") if risk is not None else None
    frame["churn_risk_over_threshold"] = frame["churn_risk"] / threshold if threshold else float("nan")
    step("signals")
    if open_since is None:
        open_since = signals_open_before(as_of)
    firing = signals.evaluate(frame[scope], open_since)
    frame["signals_firing"] = warning.firing_counts(firing, frame.index).astype(float)
    held = warning.confirmed(firing, open_since, as_of, signals)
    frame["signals_confirmed"] = (
        held.groupby("account").size().reindex(frame.index, fill_value=0).astype(float)
    )
    model_signal = warning.MODEL_SIGNAL
    levels = warning.warning_levels(
        frame["signals_firing"],
        frame["signals_confirmed"],
        frame["churn_risk_over_threshold"],
        model_firing=warning.firing_counts(firing[firing["kind"] == model_signal], frame.index),
        model_confirmed=warning.firing_counts(held[held["kind"] == model_signal], frame.index),
    )
    frame["warning_level"] = levels.astype(float)
    result_stages = None
    if with_stages:
        step("stages")
        if previous is None:
            previous = stage_before(as_of)
        result_stages = rules.evaluate(frame, previous, as_of)
        levels = warning.without_churn_warning_when_dormant(
            levels, result_stages["stage"], frame["subscription_history"] == 0
        )
        frame["warning_level"] = levels.astype(float)
    evidence = warning.warning_evidence(levels, firing, held, frame["churn_risk"], threshold)
    return Assessment(as_of, frame, scored, explanations, firing, result_stages, risk, evidence)


def customers(frame: pd.DataFrame) -> pd.Series:
    """Accounts whose health is scored: customers, but not prospects nor contract customers
    whose contracts have all ended (they are churned; their health is no longer the question)."""
    ended = (frame["subscription_history"] > 0) & (frame["subscriptions_active"] == 0)
    return (frame["customer_ever"] > 0) & ~ended


def _explain(frame: pd.DataFrame, scored: pd.DataFrame, models) -> pd.Series:
    parts = []
    for model in models:
        rows = scored.index[(scored["model"] == model.name).to_numpy() & scored["score"].notna().to_numpy()]
        if len(rows):
            parts.append(model.explain(frame.loc[rows]))
    return pd.concat(parts) if parts else pd.Series(dtype=object)


def predict(learned: LearnedModel, frame: pd.DataFrame) -> pd.DataFrame:
    """Churn probability and its factors (adding up from the typical account's risk, see
    ChurnModel.explain_risk) for the accounts with a live contract."""
    live = frame[frame["subscriptions_active"] > 0]
    if live.empty:
        return pd.DataFrame({"probability": pd.Series(dtype=float), "factors": pd.Series(dtype=object)})
    return pd.DataFrame(
        {"probability": learned.predict_proba(live), "factors": learned.explain_risk(live)}, index=live.index
    )


def signals_open_before(as_of: dt.date) -> pd.DataFrame:
    rows = Signal.objects.filter(closed_on__isnull=True, opened_on__lt=as_of).values_list(
        "account_id", "kind", "opened_on"
    )
    return pd.DataFrame.from_records(list(rows), columns=["account", "kind", "opened_on"])


def stage_before(as_of: dt.date) -> pd.DataFrame:
    """Each account's stage and since when, from the last transition before ``as_of``."""
    latest = StageTransition.objects.filter(account=OuterRef("account"), date__lt=as_of).order_by("-date")
    rows = StageTransition.objects.filter(date__lt=as_of, id=Subquery(latest.values("id")[:1])).values_list(
        "account_id", "to_stage", "date"
    )
    frame = pd.DataFrame.from_records(list(rows), columns=["account", "stage", "since"]).set_index("account")
    frame["since"] = pd.to_datetime(frame["since"])
    return frame


# -- the daily run ------------------------------------------------------------------------------


def run(
    as_of: dt.date | None = None,
    *,
    progress: Progress | None = None,
    record: Run | None = None,
    value: bool = True,
) -> Run:
    """The daily run for ``as_of`` (today by default): computes everything and stores it.
    Idempotent for a date: running it again replaces that date's scores, transitions and
    predictions and reconciles the signals again. Refuses a future date. ``record``: a Run row
    made when the run was asked for (the API's), to fill in; one is made otherwise. ``value``:
    False leaves out the value recomputation (a replay of lifecycle history)."""
    as_of = metric_source.check_as_of(as_of or metric_source.today())
    if record is None:
        record = Run.objects.create(as_of=as_of)
    elif record.status != Run.Status.RUNNING:
        record.status = Run.Status.RUNNING
        record.save(update_fields=["status"])
    try:
        config = (health_models(), stage_rules(), signal_set())  # a broken configuration stops here
        result = assess(as_of, progress=progress, config=config)
        step = progress or (lambda name: None)
        step("value")
        churned = result.stages.index[result.stages["stage"] == "churned"]  # no future value, no tier
        values = value_services.recompute(as_of, churned=churned) if value else None
        step("save")
        summary = {**save(result), "value": values}
        if value:
            step("fit")
            summary["fit"] = lead_fit.daily(as_of)  # the lookalike, lead and account fit, the funnel
    except Exception as error:
        fail_run(record, "".join(traceback.format_exception_only(error)).strip())
        raise
    record.status, record.summary, record.finished_at = Run.Status.DONE, summary, timezone.now()
    record.save(update_fields=["status", "summary", "finished_at"])
    _latest_metrics.clear()
    _latest_metrics[as_of] = result.metrics
    events.emit("lifecycle.run_finished", run_id=record.pk, as_of=as_of.isoformat())
    return record


# The latest run's per-account metrics, kept in this process so that what reacts to the run (the
# playbooks' daily triggers) reads them instead of computing them again.
_latest_metrics: dict[dt.date, pd.DataFrame] = {}


def assessed_metrics(as_of: dt.date) -> pd.DataFrame | None:
    """The metrics frame (with health and signals) of the run for ``as_of`` made in this process."""
    return _latest_metrics.get(as_of)


# A run asked for and not finished after this long was lost (its worker stopped, or it never ran).
STALE_AFTER = dt.timedelta(hours=6)


def request_run(actor, as_of: dt.date | None = None, *, via: str = "api") -> Run:
    """Ask for the daily run as of a date (today by default) on the task queue, for administrators.
    A future date or a broken configuration is refused here, before anything is queued; runs
    asked for earlier that never finished are marked failed first, so none stays "running"."""
    if not actor.has_perm("lifecycle.change_healthmodel"):
        raise PermissionDenied(_("You may not start the daily run."))
    as_of = metric_source.check_as_of(as_of or metric_source.today())
    health_models(), stage_rules(), signal_set()
    with transaction.atomic():
        sweep_stale_runs()
        record = Run.objects.create(as_of=as_of, status=Run.Status.QUEUED)
        audit.record(actor, via, "create", record, {"as_of": [None, as_of.isoformat()]})
        transaction.on_commit(lambda: _queue_run(record))
    return record


def _queue_run(record: Run) -> None:
    from clm.lifecycle.tasks import daily_run  # the task module imports this one

    daily_run(record.as_of.isoformat(), record.pk)


def sweep_stale_runs(now: dt.datetime | None = None) -> int:
    """Mark failed the runs queued or running for longer than STALE_AFTER; returns how many."""
    now = now or timezone.now()
    return Run.objects.filter(
        status__in=(Run.Status.QUEUED, Run.Status.RUNNING), started_at__lt=now - STALE_AFTER
    ).update(
        status=Run.Status.FAILED,
        finished_at=now,
        error=f"no result after {STALE_AFTER.total_seconds() / 3600:g} hours: the worker stopped or the run was lost",
    )


def fail_run(record: Run, reason: str) -> None:
    record.status, record.error, record.finished_at = Run.Status.FAILED, reason, timezone.now()
    record.save(update_fields=["status", "error", "finished_at"])


@transaction.atomic
def save(result: Assessment) -> dict:
    """Store an assessment: health scores, stage transitions, signals, predictions, and the
    account's current stage and health when the date is the latest one run."""
    as_of = result.as_of
    scored = result.health[result.health["score"].notna()]
    previous_band = dict(
        HealthScore.objects.filter(as_of__lt=as_of, as_of__gte=as_of - dt.timedelta(days=7))
        .order_by("account_id", "as_of")
        .values_list("account_id", "band")
    )
    HealthScore.objects.filter(as_of=as_of).delete()
    HealthScore.objects.bulk_create(
        [
            HealthScore(
                account_id=account,
                as_of=as_of,
                model=row.model,
                score=float(row.score),
                score_int=int(row.score_int),
                band=row.band,
                coverage=float(row.coverage),
                components=result.explanations.get(account, []),
            )
            for account, row in zip(scored.index, scored.itertuples(), strict=True)
        ],
        batch_size=BATCH,
    )
    turned_red = [
        a for a, band in scored["band"].items() if band == "red" and previous_band.get(a) not in (None, "red")
    ]
    current = _is_latest(as_of)

    transitions = _save_transitions(result, announce=current)
    signals = _save_signals(result)
    predictions = _save_predictions(result)
    warnings = _save_warnings(result)
    if current:
        _update_accounts(result)
        events.emit_many(
            "health.band_changed",
            [
                {
                    "account_id": int(a),
                    "before": previous_band[a],
                    "after": row.band,
                    "score": int(row.score_int),
                    "on": as_of.isoformat(),
                }
                for a, row in zip(scored.index, scored.itertuples(), strict=True)
                if previous_band.get(a) not in (None, row.band)
            ],
        )
    return {
        "as_of": as_of.isoformat(),
        "accounts": int(len(result.metrics)),
        "scored": int(len(scored)),
        "bands": {k: int(v) for k, v in scored["band"].value_counts().items()},
        "turned_red": len(turned_red),
        "transitions": transitions,
        "signals": signals,
        "predictions": predictions,
        "warnings": warnings,
    }


def _is_latest(as_of: dt.date) -> bool:
    """Whether `as_of` is the newest date run: only then does a run change the accounts' current
    stage and health, and say so in domain events (a replay of history stays quiet)."""
    latest = HealthScore.objects.exclude(as_of=as_of).aggregate(latest=Max("as_of"))["latest"]
    return latest is None or latest < as_of


def _save_transitions(result: Assessment, *, announce: bool) -> dict:
    StageTransition.objects.filter(date=result.as_of).delete()
    changed = result.stages[result.stages["changed"]]
    if announce:
        events.emit_many(
            "account.stage_changed",
            [
                {
                    "account_id": int(a),
                    "before": row.previous_stage or None,
                    "after": row.stage,
                    "on": result.as_of.isoformat(),
                    "rule": row.rule or "",
                }
                for a, row in zip(changed.index, changed.itertuples(), strict=True)
            ],
        )
    left_on = _first_seen_churns(changed, result.as_of)
    StageTransition.objects.bulk_create(
        [
            StageTransition(
                account_id=account,
                date=left_on.get(account, result.as_of),
                from_stage=row.previous_stage or "",
                to_stage=row.stage,
                rule=row.rule or "",
                description=row.description or "",
                values=row.values,
            )
            for account, row in zip(changed.index, changed.itertuples(), strict=True)
        ],
        batch_size=BATCH,
    )
    moves = (changed["previous_stage"].fillna("(none)") + " → " + changed["stage"]).value_counts()
    return {"total": int(len(changed)), "by_path": {k: int(v) for k, v in moves.items()}}


def _first_seen_churns(changed: pd.DataFrame, as_of: dt.date) -> dict[int, dt.date]:
    """An account the engine first sees as churned left when its last contract ended, not on the
    day CLM first ran: its transition, and so its "in stage since", is dated then. (A rerun of the
    day reads it as the stage before, so it is written once.)"""
    first_seen = changed.index[changed["previous_stage"].fillna("").eq("") & changed["stage"].eq("churned")]
    if not len(first_seen):
        return {}
    return {account: day for account, day in contracts_ended_on(int(a) for a in first_seen).items() if day < as_of}


def _save_signals(result: Assessment) -> dict:
    """Open, keep and close signals. Signals move forward in time: a replay of a date before the
    latest one run leaves them as they are."""
    as_of = result.as_of
    latest = Signal.objects.aggregate(latest=Max("last_seen_on"))["latest"]
    if latest is not None and as_of < latest:
        return {
            "opened": {},
            "closed": 0,
            "open": None,
            "note": f"left as they are: signals were run up to {latest}",
        }
    open_rows = pd.DataFrame.from_records(
        list(
            Signal.objects.filter(closed_on__isnull=True, opened_on__lte=as_of).values_list(
                "id", "account_id", "kind"
            )
        ),
        columns=["id", "account", "kind"],
    )
    plan = warning.reconcile(open_rows, result.firing, evaluated_accounts=result.metrics.index)
    events.emit_many(
        "signal.closed",
        [
            {
                "account_id": int(row.account),
                "signal_id": int(row.id),
                "kind": row.kind,
                "on": as_of.isoformat(),
            }
            for row in plan.close[plan.close["reason"] == "cleared"].itertuples()
        ],
    )
    for reason in ("cleared", "duplicate"):
        ids = plan.close.loc[plan.close["reason"] == reason, "id"].tolist()
        for start in range(0, len(ids), BATCH):
            Signal.objects.filter(id__in=ids[start : start + BATCH]).update(
                closed_on=as_of, close_reason=reason
            )
    kept = Signal.objects.in_bulk(plan.keep["id"].tolist())
    for row in plan.keep.itertuples():
        signal = kept[row.id]
        signal.last_seen_on, signal.last_values = max(signal.last_seen_on, as_of), row.values
    Signal.objects.bulk_update(kept.values(), ["last_seen_on", "last_values"], batch_size=BATCH)
    opened = Signal.objects.bulk_create(
        [
            Signal(
                account_id=row.account,
                kind=row.kind,
                title=row.title,
                description=row.description,
                values=row.values,
                last_values=row.values,
                opened_on=as_of,
                last_seen_on=as_of,
            )
            for row in plan.open.itertuples()
        ],
        batch_size=BATCH,
    )
    events.emit_many(
        "signal.opened",
        [
            {"account_id": int(s.account_id), "signal_id": s.pk, "kind": s.kind, "on": as_of.isoformat()}
            for s in opened
        ],
    )
    return {
        "opened": {k: int(v) for k, v in plan.open["kind"].value_counts().items()},
        "closed": int(len(plan.close)),
        "open": int(len(plan.keep) + len(plan.open)),
    }


def _save_predictions(result: Assessment) -> int:
    ChurnPrediction.objects.filter(as_of=result.as_of).delete()
    if result.risk is None or result.risk.empty:
        return 0
    model = ChurnModel.objects.get(active=True)
    ChurnPrediction.objects.bulk_create(
        [
            ChurnPrediction(account_id=a, as_of=result.as_of, model=model, probability=float(p), factors=f)
            for a, p, f in zip(
                result.risk.index, result.risk["probability"], result.risk["factors"], strict=True
            )
        ],
        batch_size=BATCH,
    )
    return int(len(result.risk))


def _save_warnings(result: Assessment) -> dict:
    """The warning level of each account warned on the date, with its evidence; the counts per level."""
    AccountWarning.objects.filter(as_of=result.as_of).delete()
    evidence = result.warnings if result.warnings is not None else pd.Series(dtype=object)
    levels = result.metrics["warning_level"].reindex(evidence.index)
    AccountWarning.objects.bulk_create(
        [
            AccountWarning(account_id=a, as_of=result.as_of, level=int(level), evidence=why)
            for a, level, why in zip(evidence.index, levels, evidence, strict=True)
        ],
        batch_size=BATCH,
    )
    return {warning.LEVELS[int(k)]: int(v) for k, v in levels.value_counts().sort_index().items()}


CURRENT = ("health_score", "warning_level", "health_band", "lifecycle_stage", "lifecycle_stage_since")


def _update_accounts(result: Assessment) -> None:
    """The accounts' current stage, health and warning are the latest run's (a replay of an older
    date leaves them), written where they change only: prospects never do, and a table rewritten
    whole each morning leaves PostgreSQL a dead row per account to vacuum."""
    score = HealthScore.objects.filter(account=OuterRef("pk"), as_of=result.as_of)
    stage = StageTransition.objects.filter(account=OuterRef("pk")).order_by("-date")
    warned = AccountWarning.objects.filter(account=OuterRef("pk"), as_of=result.as_of)
    latest = {
        "health_score": Subquery(score.values("score_int")[:1]),
        "warning_level": Coalesce(Subquery(warned.values("level")[:1]), Value(0)),
        "health_band": Coalesce(Subquery(score.values("band")[:1]), Value("")),
        "lifecycle_stage": Coalesce(Subquery(stage.values("to_stage")[:1]), F("lifecycle_stage")),
        "lifecycle_stage_since": Coalesce(Subquery(stage.values("date")[:1]), F("lifecycle_stage_since")),
    }
    new = {f"new_{name}": value for name, value in latest.items()}
    rows = Account.objects.annotate(**new).values_list("pk", *CURRENT, *new)
    changed = [pk for pk, *values in rows if values[: len(CURRENT)] != values[len(CURRENT) :]]
    for start in range(0, len(changed), 2_000):  # in chunks: SQLite caps a statement's parameters
        Account.objects.filter(pk__in=changed[start : start + 2_000]).update(**latest)


# -- reads for the API and the UI ---------------------------------------------------------------


def health_history(account: Account, days: int = 365) -> list[HealthScore]:
    since = metric_source.today() - dt.timedelta(days=days)
    return list(account.health_scores.filter(as_of__gte=since).order_by("as_of"))


def open_signals(account: Account) -> list[Signal]:
    return list(account.signals.filter(closed_on__isnull=True).order_by("-opened_on", "id"))


def stage_history(account: Account) -> list[StageTransition]:
    """The account's stage changes, oldest first, each with its rule and the values it read."""
    return list(account.stage_transitions.order_by("date"))


def latest_warning(account: Account) -> AccountWarning | None:
    """The account's current warning with its evidence (None when the latest run gave it none)."""
    return account.warnings.order_by("-as_of").first() if account.warning_level else None


def latest_prediction(account: Account) -> ChurnPrediction | None:
    return account.churn_predictions.select_related("model").order_by("-as_of").first()


def trajectories(start: dt.date, end: dt.date, *, accounts=None) -> stages.Trajectories:
    """Paths between stages over [start, end] for the report's Sankey (see stages.trajectory_counts)."""
    rows = StageTransition.objects.filter(date__lte=end)
    if accounts is not None:
        rows = rows.filter(account__in=accounts)
    frame = pd.DataFrame.from_records(
        list(rows.values_list("account_id", "date", "from_stage", "to_stage")),
        columns=["account", "date", "from_stage", "to_stage"],
    )
    frame["from_stage"] = frame["from_stage"].replace("", None)
    return stages.trajectory_counts(frame, start, end)
