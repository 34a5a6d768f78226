"""REST resources of the lifecycle engine: an account's health (now and its history, with
components), signals, stage history and churn risk; the daily run; the configuration (health
models, stage rules, signal definitions), editable by administrators and checked when saved."""

import datetime as dt
from typing import Annotated, Any, Literal

from ninja import Query, Router, Schema, Status
from pydantic import Field

from clm.analytics import warning
from clm.core import services as core_services
from clm.core.access import visible_accounts
from clm.core.crud import ApiError, Id, Text, one_or_404, require
from clm.customers.models import Account, WarningLevel
from clm.lifecycle import services, words
from clm.lifecycle.metrics import METRICS, FutureDate
from clm.lifecycle.models import HealthModel, RuleSet, Run, Signal

router = Router(tags=["lifecycle"])


def visible_account(user, account_id: int) -> Account:
    return one_or_404(visible_accounts(user), account_id)


# -- schemas ------------------------------------------------------------------------------------


class HealthPoint(Schema):
    as_of: dt.date
    score: int = Field(description="0–100, as shown")
    band: str
    model: str
    coverage: float = Field(description="share of the model's weight that had data")
    components: list[dict[str, Any]] = Field(description="key, label, weight, score, contribution, metrics")


class HealthOut(Schema):
    account: int
    current: HealthPoint | None
    history: list[HealthPoint]


class SignalOut(Schema):
    id: int
    account: int
    kind: str = Field(description="the stable key of the signal's kind (login_drop, churn_risk_high, …)")
    title: str = Field(description="the signal's name in the requester's language")
    explanation: str = Field(description="what the signal means, in the requester's language")
    description: str
    values: dict[str, Any] = Field(description="what it saw when it opened")
    last_values: dict[str, Any] = Field(description="what it saw on the latest run")
    opened_on: dt.date
    last_seen_on: dt.date
    closed_on: dt.date | None
    close_reason: str


class WarningOut(Schema):
    account: int
    level: int = Field(description="0 none, 1 watch, 2 watch closely, 3 churn warning (only 3 flags)")
    level_key: str = Field(description="none, watch, at_risk (watch closely) or high (churn warning)")
    label: str = Field(description="the level's name in the requester's language")
    summary: str = Field(description="what the level says, in the requester's language")
    as_of: dt.date | None = Field(description="the run that gave the level (none without a warning)")
    evidence: dict[str, Any] = Field(
        description="firing and confirmed (signal kinds), churn_risk and threshold (none without a model)"
    )


class TransitionOut(Schema):
    date: dt.date
    from_stage: str | None
    to_stage: str
    rule: str
    description: str
    values: dict[str, Any]


class StageHistoryOut(Schema):
    account: int
    stage: str
    since: dt.date | None
    transitions: list[TransitionOut]


class Factor(Schema):
    feature: str
    label: str
    value: Any
    typical: Any
    effect: float = Field(description="probability this factor adds; the effects sum to probability − baseline")
    text: str
    baseline: float | None = Field(None, description="the risk of a typical account, which the effects add up from")


class ChurnRiskOut(Schema):
    account: int
    as_of: dt.date | None
    probability: float | None = Field(description="chance of churning within the model's horizon")
    horizon_days: int | None
    model_version: str | None
    factors: list[Factor]
    note: str = ""


class RunIn(Schema):
    as_of: dt.date | None = Field(None, description="the day to compute (default today); not in the future")


class RunOut(Schema):
    id: int
    as_of: dt.date
    status: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    summary: dict[str, Any]
    error: str


class HealthModelIn(Schema):
    name: Annotated[Text, Field(min_length=1, max_length=100)]
    position: Annotated[int, Field(ge=0, le=10_000)] = 0
    definition: dict[str, Any] = Field(
        description="components, bands, min_coverage, segment (see the default)"
    )


class HealthModelOut(HealthModelIn):
    id: int
    updated_at: dt.datetime


class RuleSetIn(Schema):
    definition: dict[str, Any]


class RuleSetOut(RuleSetIn):
    kind: str
    stored: bool = Field(description="false while the built-in default is in force")


class MetricOut(Schema):
    name: str
    kind: str
    description: str


# -- per account --------------------------------------------------------------------------------


def _point(score) -> dict:
    return {
        "as_of": score.as_of,
        "score": score.score_int,
        "band": score.band,
        "model": score.model,
        "coverage": score.coverage,
        "components": score.components,
    }


@router.get("/accounts/{account_id}/health", operation_id="get_account_health", response=HealthOut, summary="Health now and its history")
def account_health(request, account_id: int, days: Annotated[int, Query(ge=1, le=3660)] = 365):
    account = visible_account(request.user, account_id)
    history = [_point(s) for s in services.health_history(account, days)]
    return {"account": account.pk, "current": history[-1] if history else None, "history": history}


@router.get("/accounts/{account_id}/signals", operation_id="list_account_signals", response=list[SignalOut], summary="Early-warning signals")
def account_signals(request, account_id: int, status: Literal["open", "closed", "all"] = "open"):
    account = visible_account(request.user, account_id)
    signals = account.signals.all()
    if status == "open":
        signals = signals.filter(closed_on__isnull=True)
    elif status == "closed":
        signals = signals.filter(closed_on__isnull=False)
    return [_signal(s) for s in signals.order_by("-opened_on", "id")[:500]]


@router.get("/accounts/{account_id}/warning", operation_id="get_account_warning", response=WarningOut, summary="The account's warning level and why")
def account_warning(request, account_id: int):
    account = visible_account(request.user, account_id)
    warned = services.latest_warning(account)
    level = warned.level if warned else 0
    return {
        "account": account.pk,
        "level": level,
        "level_key": warning.LEVELS[level],
        "label": str(WarningLevel(level).label),
        "summary": words.warning_summary(level),
        "as_of": warned.as_of if warned else None,
        "evidence": warned.evidence if warned else {},
    }


def _signal(signal: Signal) -> dict:
    return {
        "id": signal.pk,
        "account": signal.account_id,
        "kind": signal.kind,
        "title": words.signal_title(signal.kind, signal.title),
        "explanation": words.signal_explanation(signal.kind, signal.title),
        "description": signal.description,
        "values": signal.values,
        "last_values": signal.last_values,
        "opened_on": signal.opened_on,
        "last_seen_on": signal.last_seen_on,
        "closed_on": signal.closed_on,
        "close_reason": signal.close_reason,
    }


@router.get(
    "/accounts/{account_id}/stage-history", operation_id="list_account_stage_history", response=StageHistoryOut, summary="Lifecycle stage changes"
)
def account_stage_history(request, account_id: int):
    account = visible_account(request.user, account_id)
    transitions = services.stage_history(account)
    return {
        "account": account.pk,
        "stage": account.lifecycle_stage,
        "since": account.lifecycle_stage_since,
        "transitions": [
            {
                "date": t.date,
                "from_stage": t.from_stage or None,
                "to_stage": t.to_stage,
                "rule": t.rule,
                "description": t.description,
                "values": t.values,
            }
            for t in transitions
        ],
    }


@router.get("/accounts/{account_id}/churn-risk", operation_id="get_account_churn_risk", response=ChurnRiskOut, summary="Churn probability and why")
def account_churn_risk(request, account_id: int):
    account = visible_account(request.user, account_id)
    prediction = services.latest_prediction(account)
    if prediction is None:
        note = (
            "no churn model has been trained yet (clm train); the early-warning rules stand alone"
            if not services.ChurnModel.objects.exists()
            else "no prediction for this account: the model scores accounts with a live contract"
        )
        return {
            "account": account.pk,
            "as_of": None,
            "probability": None,
            "horizon_days": None,
            "model_version": None,
            "factors": [],
            "note": note,
        }
    return {
        "account": account.pk,
        "as_of": prediction.as_of,
        "probability": prediction.probability,
        "horizon_days": prediction.model.horizon_days,
        "model_version": prediction.model.version,
        "factors": prediction.factors,
    }


@router.get("/lifecycle/signals", operation_id="list_open_signals", response=list[SignalOut], summary="Open signals on the accounts I can see")
def open_signals(
    request,
    kind: Annotated[Text | None, Query(max_length=50)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
):
    signals = Signal.objects.filter(closed_on__isnull=True, account__in=visible_accounts(request.user))
    if kind:
        signals = signals.filter(kind=kind)
    return [_signal(s) for s in signals.order_by("-opened_on", "id")[offset : offset + limit]]


@router.get("/lifecycle/trajectories", operation_id="get_stage_trajectories", summary="Paths between stages over a period (for a Sankey)")
def trajectories(request, start: dt.date, end: dt.date):
    if start > end:
        raise ApiError(422, "invalid_request", f"start {start} is after end {end}")
    result = services.trajectories(start, end, accounts=visible_accounts(request.user))
    return {
        "links": result.links.to_dict("records"),
        "paths": result.paths.to_dict("records"),
    }


# -- the daily run ------------------------------------------------------------------------------


def _require_admin(user, model) -> None:
    require(user, "change", model)


@router.post("/lifecycle/runs", operation_id="start_lifecycle_run", response={202: RunOut}, summary="Start the daily run (administrators)")
def start_run(request, payload: RunIn):
    try:
        record = services.request_run(request.user, payload.as_of, via="api")
    except FutureDate as error:
        raise ApiError(422, "invalid_request", str(error)) from None
    return Status(202, record)


@router.get("/lifecycle/runs/{run_id}", operation_id="get_lifecycle_run", response=RunOut, summary="A daily run's state and summary")
def get_run(request, run_id: Id):
    _require_admin(request.user, HealthModel)
    return one_or_404(Run.objects.all(), run_id)


# -- configuration ------------------------------------------------------------------------------


@router.get("/lifecycle/metrics", operation_id="list_lifecycle_metrics", response=list[MetricOut], summary="The metrics rules and models may read")
def list_metrics(request):
    return [{"name": name, "kind": m.kind, "description": m.description} for name, m in METRICS.items()]


@router.get("/lifecycle/health-models", operation_id="list_health_models", response=list[HealthModelOut], summary="Stored health models")
def list_health_models(request):
    return list(HealthModel.objects.all())


@router.post("/lifecycle/health-models", operation_id="create_health_model", response={201: HealthModelOut}, summary="Add a health model")
def add_health_model(request, payload: HealthModelIn):
    _require_admin(request.user, HealthModel)
    model = core_services.create(HealthModel, payload.dict(), actor=request.user, via="api")
    return Status(201, model)


@router.put("/lifecycle/health-models/{model_id}", operation_id="replace_health_model", response=HealthModelOut, summary="Change a health model")
def change_health_model(request, model_id: Id, payload: HealthModelIn):
    _require_admin(request.user, HealthModel)
    model = one_or_404(HealthModel.objects.all(), model_id)
    return core_services.update(model, payload.dict(), actor=request.user, via="api")


@router.get("/lifecycle/rules/{kind}", operation_id="get_lifecycle_rules", response=RuleSetOut, summary="Stage rules or signal definitions")
def get_rules(request, kind: Literal["stages", "signals"]):
    row = RuleSet.objects.filter(kind=kind).first()
    if row:
        return {"kind": kind, "definition": row.definition, "stored": True}
    default = services.stage_rules() if kind == "stages" else services.signal_set()
    return {"kind": kind, "definition": default.to_dict(), "stored": False}


@router.put(
    "/lifecycle/rules/{kind}", operation_id="replace_lifecycle_rules", response=RuleSetOut, summary="Replace the stage rules or signal definitions"
)
def put_rules(request, kind: Literal["stages", "signals"], payload: RuleSetIn):
    _require_admin(request.user, RuleSet)
    row = RuleSet.objects.filter(kind=kind).first()
    if row is None:
        row = core_services.create(
            RuleSet, {"kind": kind, "definition": payload.definition}, actor=request.user, via="api"
        )
    else:
        row = core_services.update(row, {"definition": payload.definition}, actor=request.user, via="api")
    return {"kind": kind, "definition": row.definition, "stored": True}
