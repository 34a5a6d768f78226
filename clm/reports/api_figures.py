"""REST endpoints of the dashboards' figures, under /api/v1/reports/figures: the same figure a
page charts (clm.reports.charts, read through clm.reports.figures), over the records the user may
see, the accounts behind a part of it, and its numbers as CSV or XLSX."""

from typing import Annotated, Literal

from django.http import HttpResponse
from ninja import Query, Router, Schema
from pydantic import Field

from clm.core.crud import DEFAULT_LIMIT, Limit, Offset, Text
from clm.io import export

from .api import AccountRef, Filters
from .charts import labels, service

router = Router(tags=["reports"])

Key = Annotated[Text, Field(max_length=50, description="a figure key, e.g. revenue.waterfall")]


class FigureRef(Schema):
    key: str
    title: str
    page: str


@router.get("/figures", response=list[FigureRef], operation_id="list_figures", summary="The dashboards' figures")
def figure_list(request):
    return [{"key": key, "title": str(labels.TITLES[key]), "page": page}
            for page, keys in service.PAGES.items() for key in keys]


class FigureOut(Schema):
    key: str
    title: str
    period: str
    as_of: str
    columns: list[str]
    column_labels: list[str]
    rows: list[list]
    parts: dict[str, int] = Field(description="accounts behind each part: GET /figures/{key}/accounts?part=")
    no_data: str | None = Field(description="why the figure is empty")
    extra: dict = Field(description="figures beside the table (customer equity, bands, the backtest's dates…)")


CORE = {"period", "as_of", "columns", "rows", "groups", "no_data", "parts"}


@router.get("/figures/{key}", response=FigureOut, operation_id="get_figure", summary="One figure of the dashboards")
def figure_get(request, key: Key, filters: Query[Filters]):
    period = filters.parsed_period()
    figure = service.public(service.read(request.user, key, period, filters.segment()))
    return {**{k: figure[k] for k in CORE - {"groups"}}, "key": key, "title": str(labels.TITLES[key]),
            "column_labels": [labels.column(c) for c in figure["columns"]],
            "extra": {k: v for k, v in figure.items() if k not in CORE}}


class FigureAccountsOut(Schema):
    key: str
    part: str
    period: str
    count: int
    limit: int
    offset: int
    items: list[AccountRef]


@router.get("/figures/{key}/accounts", response=FigureAccountsOut, operation_id="list_figure_accounts",
            summary="The accounts behind one part of a figure")
def figure_accounts(request, key: Key, filters: Query[Filters], part: Annotated[Text, Field(max_length=100)],
                    limit: Limit = DEFAULT_LIMIT, offset: Offset = 0):
    period = filters.parsed_period()
    found, _figure = service.accounts(request.user, key, period, filters.segment(), part)
    found = found.order_by("name", "pk")
    return {"key": key, "part": part, "period": period.label, "count": found.count(), "limit": limit,
            "offset": offset, "items": list(found.values("id", "name")[offset: offset + limit])}


@router.get("/figures/{key}/export", response={200: None}, operation_id="export_figure",
            summary="A figure's numbers as CSV or XLSX")
def figure_export(request, key: Key, filters: Query[Filters], format: Literal["csv", "xlsx"] = "csv"):
    period = filters.parsed_period()
    figure = service.read(request.user, key, period, filters.segment())
    response = HttpResponse(service.write(key, figure, format), content_type=export.content_type(format))
    response["Content-Disposition"] = f'attachment; filename="{key}-{period.label}.{format}"'
    return response
