"""Reading the dashboard pages' figures for a user: which figures each page shows, one figure
over what the user may see (a bad key or part is named, never a 500), the accounts behind a
part of it, and its numbers as a table for CSV and XLSX (formula-injection safe, clm.io.export)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from clm.customers.models import Account
from clm.io import export
from clm.lifecycle.services import signal_set
from clm.value import services as value_services

from .. import figures
from ..kpis.base import Scope, Segment
from ..periods import Period
from . import labels

PAGES = {
    "flows": ("flows.sankey", "flows.stage_time", "flows.returns"),
    "revenue": ("revenue.waterfall", "revenue.retention", "revenue.cohort_retention", "revenue.arr_segments"),
    "cohorts": ("cohorts.logo", "cohorts.revenue", "cohorts.repurchase"),
    "value": ("value.clv", "value.tiers", "value.economics"),
    "quality": ("quality.churners", "quality.recall", "quality.lead_time", "quality.calibration"),
    "team": ("team.people",),
}


CHARTS = frozenset(key for keys in PAGES.values() for key in keys)  # the overview's own figures are not charts


def check_key(key: str) -> str:
    if key not in CHARTS:
        raise ValidationError({"key": _("“%(key)s” is not a figure of the dashboards; they are: %(keys)s.")
                               % {"key": key, "keys": ", ".join(sorted(CHARTS))}})
    return key


def read(user, key: str, period: Period, segment: Segment | None = None, *, scope: Scope | None = None,
         today=None) -> dict:
    """The figure ``key`` over the records ``user`` may see in ``segment``."""
    return figures.read(check_key(key), scope or Scope(user, segment, today), period)


def public(figure: dict) -> dict:
    """A figure as the API and the pages show it: the accounts behind each part as counts (the
    ids are read through ``accounts``)."""
    out = {k: v for k, v in figure.items() if k != "groups"}
    out["parts"] = {part: len(ids) for part, ids in figure["groups"].items()}
    return out


def accounts(user, key: str, period: Period, segment: Segment | None = None, part: str = "", *, today=None):
    """The accounts behind one part of a figure (a link of the Sankey, a month's churn...), as a
    queryset of those ``user`` may see; a part the figure does not have is named."""
    figure = read(user, key, period, segment, today=today)
    if part not in figure["groups"]:
        raise ValidationError({"part": _("“%(part)s” is not a part of the figure %(key)s.") % {"part": part, "key": key}})
    return Scope(user).visible(Account).filter(pk__in=figure["groups"][part]), figure


def table(key: str, figure: dict) -> tuple[list[str], list[list]]:
    """The figure's numbers as a header and rows in the user's language."""
    columns = figure["columns"]
    signals = {s.kind: s.title for s in signal_set().signals} if key.startswith("quality.") else None
    header = [_("Period"), *(labels.column(c) for c in columns)]
    tiers = value_services.tier_names()
    rows = [[figure["period"], *labels.row(key, columns, row, signals, tiers)] for row in figure["rows"]]
    return header, rows


def write(key: str, figure: dict, fmt: str) -> bytes:
    """The figure's table as CSV or XLSX."""
    header, rows = table(key, figure)
    if fmt == "csv":
        return export.table_csv(header, rows)
    return export.table_xlsx(header, rows, key.replace(".", "-"))
