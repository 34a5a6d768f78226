"""REST resources for pipelines: their stages, the board of deals by stage, a deal's move to
another stage (with the fields its stage requires), and the weighted forecast of a period."""

import datetime as dt
from decimal import Decimal

from django.shortcuts import get_object_or_404
from ninja import Router, Schema
from pydantic import Field

from clm.core.access import visible_records
from clm.core.crud import Text
from clm.sales import pipelines
from clm.sales.models import Opportunity, Pipeline

router = Router(tags=["pipelines"])


class StageOut(Schema):
    key: str
    label: str
    order: int
    probability: int
    required_fields: list[str]


class PipelineOut(Schema):
    key: str
    label: str
    type: str
    is_default: bool
    stages: list[StageOut]

    @staticmethod
    def resolve_stages(pipeline):
        return list(pipeline.stages.all())


class DealOut(Schema):
    id: int
    name: str
    account: int = Field(alias="account_id")
    account_name: str = Field(alias="account.name")
    owner: int | None = Field(None, alias="owner_id")
    amount: Decimal
    expected_close: dt.date | None
    stage: str


class BoardDealOut(Schema):
    deal: DealOut = Field(alias="opportunity")
    days_in_stage: int


class ColumnOut(Schema):
    stage: StageOut
    count: int
    amount: Decimal
    weighted: Decimal
    deals: list[BoardDealOut]

    @staticmethod
    def resolve_count(column):
        return len(column.deals)


class BoardOut(Schema):
    pipeline: PipelineOut
    closed_since: dt.date
    columns: list[ColumnOut]


class MoveIn(Schema):
    stage: Text = Field(max_length=15, description="the stage's key in the deal's pipeline")
    amount: Decimal | None = Field(None, ge=0, max_digits=14, decimal_places=2)
    expected_close: dt.date | None = None
    lost_reason: Text | None = Field(None, max_length=200)


class ForecastOut(Schema):
    start: dt.date
    end: dt.date
    deals: int
    open_amount: Decimal
    weighted: Decimal
    commit: Decimal
    won: Decimal


@router.get("/pipelines", response=list[PipelineOut], operation_id="list_pipelines", summary="List pipelines")
def list_pipelines(request):
    return list(pipelines.pipelines_for(request.user))


@router.get(
    "/pipelines/{key}/board",
    response=BoardOut,
    operation_id="get_pipeline_board",
    summary="A pipeline's deals by stage",
    description="Open deals, and those closed in the last 30 days, that the caller may see.",
)
def get_board(request, key: str, owner: int | None = None, close_before: dt.date | None = None):
    pipeline = get_object_or_404(Pipeline, key=key, active=True)
    return pipelines.board(request.user, pipeline, owner=owner, close_before=close_before)


@router.post(
    "/opportunities/{opportunity_id}/move",
    response=DealOut,
    operation_id="move_opportunity",
    summary="Move a deal to another stage",
    description="Fields the stage requires may be sent along; a missing one is answered 422 naming it.",
)
def move_opportunity(request, opportunity_id: int, body: MoveIn):
    deal = get_object_or_404(visible_records(Opportunity, request.user), pk=opportunity_id)
    fields = {k: v for k, v in body.dict(exclude={"stage"}).items() if v is not None}
    return pipelines.move(request.user, deal, body.stage, via="api", **fields)


@router.get(
    "/pipelines/forecast",
    response=ForecastOut,
    operation_id="get_pipeline_forecast",
    summary="The weighted forecast of a period",
    description="Deals expected to close from start to end (inclusive): won, open, weighted by stage "
    "probability, and commit (stages of 75% or more).",
)
def get_forecast(request, start: dt.date, end: dt.date):
    return pipelines.forecast(request.user, start, end)
