"""REST endpoints of the KPIs, under /api/v1/kpis: the catalogue, the values of a period and a
segment with their inputs, the accounts behind a number, CSV/XLSX export, and targets.

Every figure is clm.reports.services' — the same function the dashboard and the exports read —
over the records the user may see (clm.core.access)."""

from typing import Annotated, Literal

from django.http import Http404, HttpResponse
from django.utils import timezone
from ninja import Query, Router, Schema, Status
from pydantic import Field

from clm.core.crud import DEFAULT_LIMIT, Id, InputSchema, Limit, Offset, Text
from clm.io import export

from . import services
from .catalogue import CATALOGUE, STAGES, TEAMS, UNITS
from .kpis.base import Segment, check_tier
from .models import KpiTarget

router = Router(tags=["kpis"])

PeriodText = Annotated[
    Text, Field(max_length=10, description="2026-11, 2026-Q4 or 2026; default: the last whole month")
]


class Filters(Schema):
    period: PeriodText | None = None
    kind: Literal["month", "quarter", "year"] = Field(
        "month", description="with no period: the last whole one of this kind"
    )
    industry: Annotated[Text, Field(max_length=100)] = ""
    region: Annotated[Text, Field(max_length=50)] = ""
    owner: Id | None = Field(None, description="sales owner's user id")
    team: Id | None = Field(None, description="team id (owner's or CSM's)")
    tag: Id | None = None
    tier: Annotated[Text, Field(max_length=30, description="a value tier's key: the accounts in it now")] = ""

    def segment(self) -> Segment:
        return Segment(self.industry, self.region, self.owner, self.team, self.tag, check_tier(self.tier))

    def parsed_period(self):
        return services.parse_period(self.period, self.kind)


class KpiOut(Schema):
    key: str
    name: str
    definition: str
    formula: str
    stage: str
    stage_label: str
    team: str
    team_label: str
    unit: str
    unit_label: str
    up_is_good: bool


def _kpi(kpi) -> dict:
    return {
        "key": kpi.key,
        "name": str(kpi.name),
        "definition": str(kpi.definition),
        "formula": str(kpi.formula),
        "stage": kpi.stage,
        "stage_label": str(STAGES[kpi.stage]),
        "team": kpi.team,
        "team_label": str(TEAMS[kpi.team]),
        "unit": kpi.unit,
        "unit_label": str(UNITS[kpi.unit]),
        "up_is_good": kpi.up_is_good,
    }


@router.get("", response=list[KpiOut], operation_id="list_kpis", summary="The KPI catalogue")
def catalogue(request):
    return [_kpi(k) for k in CATALOGUE]


class ValueOut(KpiOut):
    value: float | None = Field(description="None when there is no data yet (see no_data)")
    numerator: float | None
    denominator: float | None
    breakdown: dict[str, float]
    accounts: int = Field(description="accounts behind the number: GET /kpis/{key}/accounts")
    no_data: str | None = Field(description="why there is no value yet")
    previous_value: float | None
    change: float | None
    target: float | None
    status: str = Field(description="met, missed, no_target or no_data")


class ValuesOut(Schema):
    period: str
    previous_period: str
    as_of: str
    segment: dict
    items: list[ValueOut]


@router.get(
    "/values",
    operation_id="get_kpi_values",
    response=ValuesOut,
    summary="Every KPI for a period and segment, with its inputs",
)
def values(request, filters: Query[Filters]):
    period = filters.parsed_period()
    rows = services.kpi_table(request.user, period, filters.segment())
    return {
        "period": period.label,
        "previous_period": period.previous().label,
        "as_of": period.as_of(timezone.localdate()).isoformat(),
        "segment": filters.segment().as_query(),
        "items": [_value(row) for row in rows],
    }


def _value(row) -> dict:
    return {**_kpi(row.kpi), **services.row_data(row)}


class AccountRef(Schema):
    id: int
    name: str


class AccountsOut(Schema):
    kpi: str
    period: str
    value: float | None
    no_data: str | None
    count: int
    limit: int
    offset: int
    items: list[AccountRef]


@router.get(
    "/{key}/accounts",
    operation_id="list_kpi_accounts",
    response=AccountsOut,
    summary="The accounts behind one KPI's number",
)
def accounts(
    request,
    key: Annotated[Text, Field(max_length=50)],
    filters: Query[Filters],
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
):
    period = filters.parsed_period()
    found, result = services.kpi_accounts(request.user, key, period, filters.segment())
    found = found.order_by("name", "pk")
    return {
        "kpi": key,
        "period": period.label,
        "value": result.value if result.has_value else None,
        "no_data": result.no_data,
        "count": found.count(),
        "limit": limit,
        "offset": offset,
        "items": list(found.values("id", "name")[offset : offset + limit]),
    }


@router.get(
    "/export", operation_id="export_kpis", summary="The KPI table as CSV or XLSX", response={200: None}
)
def export_table(request, filters: Query[Filters], format: Literal["csv", "xlsx"] = "csv"):
    period = filters.parsed_period()
    rows = services.kpi_table(request.user, period, filters.segment())
    body = services.write_csv(rows, period) if format == "csv" else services.write_xlsx(rows, period)
    response = HttpResponse(body, content_type=export.content_type(format))
    response["Content-Disposition"] = f'attachment; filename="kpis-{period.label}.{format}"'
    return response


class TargetIn(InputSchema):
    kpi: Annotated[Text, Field(max_length=50)]
    period: PeriodText
    value: float


class TargetOut(Schema):
    kpi: str
    period: str
    value: float
    set_by: str | None
    set_at: str

    @staticmethod
    def resolve_set_by(obj):
        return obj.set_by.username if obj.set_by else None

    @staticmethod
    def resolve_set_at(obj):
        return obj.set_at.isoformat()


@router.get(
    "/targets",
    operation_id="list_kpi_targets",
    response=list[TargetOut],
    summary="Targets, of one period or all",
)
def targets(request, period: PeriodText | None = None):
    found = KpiTarget.objects.select_related("set_by")
    if period:
        found = found.filter(period=services.parse_period(period).label)
    return list(found)


@router.put(
    "/targets",
    operation_id="set_kpi_target",
    response=TargetOut,
    summary="Set a KPI's target for a period (managers)",
)
def put_target(request, payload: TargetIn):
    return services.set_target(request.user, payload.kpi, payload.period, payload.value, via="api")


@router.delete(
    "/targets/{key}/{period}",
    operation_id="delete_kpi_target",
    response={204: None},
    summary="Remove a target (managers)",
)
def delete_target(request, key: Annotated[Text, Field(max_length=50)], period: PeriodText):
    if not services.remove_target(request.user, key, period, via="api"):
        raise Http404(f"No target of {key} for {period}.")
    return Status(204, None)
