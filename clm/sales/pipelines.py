"""Pipelines: each deal in its type's sales process, moved between stages by the one write path
(clm.core.records: permission, visibility, the stage's required fields, history, audit, the
``opportunity.stage_changed`` event); the board a rep or manager works from (the forecast of
a period is clm.sales.forecast)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, F, OuterRef, Q, Subquery, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from clm.core import records
from clm.core.access import visible_records
from clm.core.services import Written, write_rule
from clm.sales.models import Opportunity, OpportunityStageChange, Pipeline, PipelineStage

CENT = Decimal("0.01")
BUILT_IN = [("new-business", "new"), ("renewal", "renewal"), ("expansion", "expansion")]  # key, deal type
BUILT_IN_STAGES = [("qualify", 10), ("discovery", 25), ("proposal", 50), ("negotiation", 75), ("won", 100), ("lost", 0)]


def install_built_in(pipeline_model=Pipeline, stage_model=PipelineStage, deal_model=Opportunity) -> int:
    """The six stages every deal had before pipelines, as the default pipeline of each deal type
    that has none, and every deal without a pipeline in its type's default; the number of
    pipelines made. Idempotent: the migration and `clm demo` call it (the models are passed in by
    the migration, as they were then)."""
    made = 0
    for order, (key, deal_type) in enumerate(BUILT_IN):
        pipeline = pipeline_model.objects.filter(type=deal_type, is_default=True).first()
        if pipeline is None and not pipeline_model.objects.filter(key=key).exists():
            pipeline = pipeline_model.objects.create(key=key, type=deal_type, is_default=True, order=order)
            stage_model.objects.bulk_create(
                stage_model(pipeline=pipeline, key=stage, order=i, probability=probability)
                for i, (stage, probability) in enumerate(BUILT_IN_STAGES)
            )
            made += 1
        if pipeline is not None:
            deal_model.objects.filter(type=deal_type, pipeline=None).update(pipeline=pipeline)
    return made


@write_rule(Opportunity)
def join_default_pipeline(written: Written) -> None:
    """A deal written without a pipeline (an import, the API, a form) joins its type's default."""
    for pipeline in Pipeline.objects.filter(is_default=True):
        Opportunity.objects.filter(pk__in=written.ids, pipeline=None, type=pipeline.type).update(
            pipeline=pipeline
        )


def check_stages(stages: list[dict], pipeline: Pipeline | None = None) -> None:
    """A pipeline's stages as an editor sends them ([{key, order}...]): unique keys, won and lost
    among them and after every open stage, and no stage left out that deals are still in."""
    keys = [s["key"] for s in stages]
    errors = []
    if pipeline is not None and pipeline.pk:
        held = pipeline.opportunities.exclude(stage__in=keys).values_list("stage").annotate(n=Count("pk"))
        for key, count in held.order_by("stage"):
            errors.append(
                _("%(count)s deals are in the stage “%(key)s”: move them before removing or renaming it.")
                % {"count": count, "key": key}
            )
    if len(set(keys)) != len(keys):
        errors.append(_("Each stage needs its own key."))
    for terminal in (PipelineStage.WON, PipelineStage.LOST):
        if terminal not in keys:
            errors.append(_("A pipeline ends in the stages “won” and “lost”; “%(key)s” is missing.") % {"key": terminal})
    open_orders = [s["order"] for s in stages if s["key"] not in (PipelineStage.WON, PipelineStage.LOST)]
    closed_orders = [s["order"] for s in stages if s["key"] in (PipelineStage.WON, PipelineStage.LOST)]
    if open_orders and closed_orders and max(open_orders) > min(closed_orders):
        errors.append(_("The stages “won” and “lost” come after every open stage."))
    if not open_orders:
        errors.append(_("A pipeline needs at least one open stage before “won” and “lost”."))
    if errors:
        raise ValidationError(errors)


def move(actor, opportunity: Opportunity, stage: str, *, via: str = "ui", **fields) -> Opportunity:
    """Move a deal to ``stage`` (filling ``fields`` such as amount or lost_reason on the way)."""
    return records.save_record(actor, Opportunity, {"stage": stage, **fields}, instance=opportunity, via=via)


@dataclass
class Deal:
    opportunity: Opportunity
    days_in_stage: int


@dataclass
class Column:
    """A stage's deals: how many and how much in all, and the first ``shown`` of them by close date."""

    stage: PipelineStage
    count: int = 0
    amount: Decimal = Decimal(0)
    deals: list[Deal] = field(default_factory=list)

    @property
    def weighted(self) -> Decimal:
        return (self.amount * self.stage.probability / 100).quantize(CENT)

    @property
    def hidden(self) -> int:
        return self.count - len(self.deals)


@dataclass
class Board:
    pipeline: Pipeline
    columns: list[Column]
    closed_since: dt.date


CARDS = 20  # cards shown per column; the column's count and amount cover every deal


def pipelines_for(user):
    """The active pipelines, in order (every user sees every pipeline; the deals are filtered)."""
    return Pipeline.objects.filter(active=True).prefetch_related("stages")


def board(
    user, pipeline: Pipeline, *, owner: int | None = None, close_before: dt.date | None = None,
    today: dt.date | None = None, closed_days: int = 30, cards: int = CARDS,
) -> Board:  # fmt: skip
    """The deals of ``pipeline`` the user may see, by stage: every open deal, and those won or lost
    in the last ``closed_days`` days, counted and summed per stage; the first ``cards`` of each
    stage by close date, each with how long it has been in its stage."""
    if not records.may(user, "view", Opportunity):
        raise PermissionDenied(_("You may not see deals."))
    today = today or timezone.localdate()
    since = today - dt.timedelta(days=closed_days)
    stages = list(pipeline.stages.all())
    in_pipeline = Q(pipeline=pipeline)
    if pipeline.is_default:  # a deal written around the services (a bulk load) is in its type's default
        in_pipeline |= Q(pipeline=None, type=pipeline.type)
    deals = visible_records(Opportunity, user).filter(in_pipeline)
    deals = deals.filter(~Q(stage__in=Opportunity.CLOSED) | Q(closed_on__gte=since))
    if owner:
        deals = deals.filter(owner_id=owner)
    if close_before:
        deals = deals.filter(Q(expected_close__lt=close_before) | Q(expected_close=None))
    columns = {s.key: Column(s) for s in stages}
    for stage, count, amount in deals.order_by().values_list("stage").annotate(n=Count("pk"), amount=Sum("amount")):
        if stage in columns:
            columns[stage].count, columns[stage].amount = count, Decimal(amount or 0).quantize(CENT)
    entered = OpportunityStageChange.objects.filter(opportunity=OuterRef("pk")).order_by("-changed_at")
    for column in columns.values():
        if not column.count:
            continue
        shown = (
            deals.filter(stage=column.stage.key).select_related("account", "owner")
            .annotate(entered=Subquery(entered.values("changed_at")[:1]))
            .order_by(F("expected_close").asc(nulls_last=True), "pk")[:cards]
        )  # fmt: skip
        for deal in shown:
            day = timezone.localdate(deal.entered) if deal.entered else deal.created_at.date()
            column.deals.append(Deal(deal, max(0, (today - day).days)))
    return Board(pipeline, list(columns.values()), since)


def stage_history(opportunity: Opportunity) -> list[dict]:
    """Each move of the deal, oldest first, with the stages' names: {at, before, after, by}."""
    return [
        {"at": change.changed_at, "before": opportunity.label_of(change.from_stage) if change.from_stage else "",
         "after": opportunity.label_of(change.to_stage), "by": change.changed_by}
        for change in OpportunityStageChange.objects.filter(opportunity=opportunity).select_related("changed_by")
    ]  # fmt: skip
