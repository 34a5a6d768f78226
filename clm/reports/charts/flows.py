"""Lifecycle flows: the moves between stages in the period (a Sankey), the time spent in each
stage, and the share of lapsed customers that comes back (回流) month by month — from the stored
stage changes (clm.lifecycle), through clm.analytics.stages."""

from __future__ import annotations

from django.utils.translation import gettext as _

from clm.analytics.stages import stage_durations, trajectory_counts
from clm.customers.models import LifecycleStage

from ..figures import figure
from ..kpis import stages as stage_kpis
from .base import empty, make, month_period, months


def link_key(from_stage: str, to_stage: str) -> str:
    return f"{from_stage or 'new'}>{to_stage}"


@figure("flows.sankey")
def sankey(scope, period) -> dict:
    """Moves between stages over the period. ``rows``: from, to, accounts (the moves, however
    often one account made them); ``steps``: the same by step (first move, second...), which a
    Sankey draws without loops."""
    end = period.as_of(scope.today)
    columns = ["from_stage", "to_stage", "accounts"]
    frame = stage_kpis._transitions(scope)
    frame = frame.assign(before=frame.groupby("account_id")["stage"].shift(1).fillna(""))
    moves = frame[(frame["date"] >= period.start) & (frame["date"] <= end)]
    if moves.empty:
        return empty(scope, period, columns, stage_kpis.no_stages() if frame.empty else _(
            "No account changed stage in %(period)s.") % {"period": period.label}, steps=[])
    groups = {link_key(before, after): part["account_id"] for (before, after), part in moves.groupby(["before", "stage"])}
    # the paths of clm.lifecycle.services.trajectories, from the scope's own frame (no second read)
    paths = trajectory_counts(frame.rename(columns={"account_id": "account", "stage": "to_stage"})
                              .assign(from_stage=frame["from_stage"].replace("", None)), period.start, end)
    rows = [[r.from_stage, r.to_stage, int(r.count)] for r in paths.links.itertuples()]
    steps = [[int(r.step), r.from_stage, r.to_stage, int(r.count)] for r in paths.step_links.itertuples()]
    return make(scope, period, columns, rows, groups=groups, steps=steps)


@figure("flows.stage_time")
def stage_time(scope, period) -> dict:
    """Days spent in each stage by the stays that ended in the period (median, mean, how many),
    and how many accounts are still in it at the period's end."""
    columns = ["stage", "median_days", "mean_days", "stays", "accounts", "ongoing"]
    frame = stage_kpis._transitions(scope)
    if frame.empty:
        return empty(scope, period, columns, stage_kpis.no_stages())
    table = stage_durations(frame.rename(columns={"account_id": "account", "stage": "to_stage"}),
                            period.start, period.as_of(scope.today))
    order = {stage: i for i, stage in enumerate(LifecycleStage.values)}
    table = table.sort_values("stage", key=lambda s: s.map(order))
    rows = table[columns].itertuples(index=False)
    stages = stage_kpis.stage_as_of(scope, period.as_of(scope.today))
    groups = {stage: ids for stage, ids in stages.groupby(stages).groups.items()} if stages is not None else {}
    return make(scope, period, columns, rows, groups=groups)


@figure("flows.returns")
def returns(scope, period) -> dict:
    """回流 by month: of the customers dormant or churned when the month began, the share that
    came back in it (the reactivation-rate KPI, month by month)."""
    columns = ["month", "lapsed", "returned", "share"]
    shown = months(scope, period)
    if stage_kpis._transitions(scope).empty:
        return empty(scope, period, columns, stage_kpis.no_stages())
    # the months drawn decide the figure: the current month, quarter and year share one computation
    rows, groups = scope.memo(("returns by month", shown[0], shown[-1]), lambda: _returns(scope, shown))
    return make(scope, period, columns, rows, groups=groups)


def _returns(scope, shown) -> tuple[list, dict]:
    rows, groups = [], {}
    for month in shown:
        result = stage_kpis.reactivation_rate(scope, month_period(month))
        if result.has_value:
            rows.append([str(month), int(result.denominator), int(result.numerator), result.value])
            groups[str(month)] = result.account_ids
        else:
            rows.append([str(month), 0, 0, None])
    return rows, groups
