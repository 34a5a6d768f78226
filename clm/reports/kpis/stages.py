"""KPIs of the lifecycle engine's records: customers by stage, the healthy share, reactivation of
dormant and churned customers (clm.lifecycle's stage transitions and health scores)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from django.db.models import Max
from django.utils.translation import gettext as _

from clm.core.frames import read_frame
from clm.customers.models import LifecycleStage
from clm.lifecycle.models import HealthScore, StageTransition

from .base import Result, Scope, missing, share

ACTIVE_STAGES = (
    LifecycleStage.ONBOARDING, LifecycleStage.GROWTH, LifecycleStage.MATURE, LifecycleStage.AT_RISK,
    LifecycleStage.REACTIVATED,
)  # fmt: skip
LAPSED_STAGES = (LifecycleStage.DORMANT, LifecycleStage.CHURNED)


def no_stages() -> str:
    return _("The lifecycle engine has not recorded any stage yet (run “clm run”).")


def _transitions(scope: Scope) -> pd.DataFrame:
    def load():
        rows = scope.records(StageTransition.objects.filter(date__lte=scope.today))
        frame = read_frame(rows.order_by("date", "id").values_list("account_id", "date", "to_stage", "from_stage"),
                           ["account_id", "date", "stage", "from_stage"])
        frame["date"] = pd.to_datetime(frame["date"]).dt.date
        frame["day"] = pd.to_datetime(frame["date"]).to_numpy().astype("datetime64[D]")  # compared fast
        return frame

    return scope.memo("transitions", load)


def stage_as_of(scope: Scope, day: dt.date) -> pd.Series | None:
    """Each account's stage at the end of ``day`` (its latest transition by then); None when the
    engine has recorded no stage at all."""
    def compute():
        frame = _transitions(scope)
        if frame.empty:
            return None
        known = frame[frame["day"] <= np.datetime64(day, "D")]  # oldest first: an account's last row is its stage
        return known.drop_duplicates("account_id", keep="last").set_index("account_id")["stage"].sort_index()

    return scope.memo(("stages on", day), compute)


def customers(scope: Scope, period) -> Result:
    stages = stage_as_of(scope, period.as_of(scope.today))
    if stages is None:
        return missing(no_stages())
    active = stages[stages.isin(ACTIVE_STAGES)]
    counts = stages.value_counts()
    return Result(
        value=float(len(active)), numerator=float(len(active)),
        account_ids=sorted(int(i) for i in active.index),
        breakdown={stage: float(counts.get(stage, 0)) for stage in LifecycleStage.values},
        groups={stage: sorted(int(i) for i in ids) for stage, ids in stages.groupby(stages).groups.items()},
    )


def reactivation_rate(scope: Scope, period) -> Result:
    """Share of the customers dormant or churned when the period began that came back in it."""
    before = stage_as_of(scope, period.start - dt.timedelta(days=1))
    if before is None:
        return missing(no_stages())
    lapsed = before[before.isin(LAPSED_STAGES)].index
    frame = _transitions(scope)
    inside = (frame["day"] >= np.datetime64(period.start, "D")) & (frame["day"] <= np.datetime64(period.as_of(scope.today), "D"))
    back = frame[inside & (frame["stage"] == LifecycleStage.REACTIVATED) & frame["account_id"].isin(lapsed)]
    returned = back["account_id"].unique()
    return share(len(returned), len(lapsed), returned,
                 when_empty=_("No customer was dormant or churned when %(period)s began.") % {"period": period.label})


def latest_bands(scope: Scope, period) -> list[tuple[int, str]] | None:
    """(account, band) of each account scored on the latest scoring day of the period, or None
    when none was: read once per scope and period (the KPI, the red accounts by owner)."""

    def load():
        day = period.as_of(scope.today)
        scores = scope.records(HealthScore.objects.filter(as_of__lte=day, as_of__gte=period.start))
        latest = scores.aggregate(day=Max("as_of"))["day"]
        return None if latest is None else list(scores.filter(as_of=latest).values_list("account_id", "band"))

    return scope.memo(("latest bands", period.label), load)


def healthy_share(scope: Scope, period) -> Result:
    """Share of scored accounts in the green band on the latest scoring day of the period."""
    rows = latest_bands(scope, period)
    if rows is None:
        return missing(_("No health score was computed in %(period)s (run “clm run”).") % {"period": period.label})
    bands = pd.Series([b for _a, b in rows], dtype=object)
    green = [a for a, b in rows if b == "green"]
    counts = bands.value_counts()
    result = share(len(green), len(rows), green, when_empty=no_stages(),
                   breakdown={band: float(counts.get(band, 0)) for band in ("green", "yellow", "red")})
    result.groups = {band: sorted(a for a, b in rows if b == band) for band in ("green", "yellow", "red")}
    return result
