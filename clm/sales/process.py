"""The sales process measured (clm.analytics.deals): for the deals of a pipeline created in a
period that the user may see — win rate, average won deal, sales cycle, conversion from each stage
to the next and the days spent in each — in all and by owner, region, industry or source."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from clm.analytics.deals import deal_metrics
from clm.core.access import visible_records
from clm.core.bulk import in_batches
from clm.core.models import User
from clm.sales.models import Opportunity, OpportunityStageChange, Pipeline

GROUPS = {
    "owner": gettext_lazy("Owner"), "region": gettext_lazy("Region"), "industry": gettext_lazy("Industry"),
    "source": gettext_lazy("Source (acquisition channel)"),
}  # fmt: skip
NOT_SET = "\0"  # a deal without an owner, a region...
FIELD = {"owner": "owner_id", "region": "account__region", "industry": "account__industry",
         "source": "account__acquisition_channel"}  # fmt: skip


@dataclass
class Report:
    pipeline: Pipeline
    by: str
    start: dt.date
    end: dt.date
    stages: list  # the pipeline's open stages
    rows: list[dict]  # the first is every deal together


def report(user, pipeline: Pipeline, *, by: str = "owner", start: dt.date, end: dt.date) -> Report:
    if by not in GROUPS:
        raise ValueError(_("Group by one of: %(choices)s.") % {"choices": ", ".join(GROUPS)})
    stages = [s for s in pipeline.stages.all() if not s.is_closed]
    in_pipeline = Q(pipeline=pipeline)
    if pipeline.is_default:
        in_pipeline |= Q(pipeline=None, type=pipeline.type)
    zone = timezone.get_current_timezone()
    since = dt.datetime.combine(start, dt.time.min, zone)
    until = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, zone)
    deals = visible_records(Opportunity, user).filter(in_pipeline, created_at__gte=since, created_at__lt=until)
    rows = list(deals.values_list("pk", FIELD[by], "stage", "amount", "created_at", "closed_on"))
    frame = pd.DataFrame(rows, columns=["opportunity_id", "group", "stage", "amount", "created", "closed"])
    frame["group"] = frame["group"].fillna("").astype(str).replace("", NOT_SET)
    frame["amount"] = frame["amount"].astype(float)
    frame["created"] = pd.to_datetime(frame["created"], utc=True).dt.tz_localize(None).dt.normalize()
    moves = OpportunityStageChange.objects.values_list("opportunity_id", "to_stage", "changed_at")
    history = pd.DataFrame(
        [row for batch in in_batches([r[0] for r in rows]) for row in moves.filter(opportunity_id__in=batch)],
        columns=["opportunity_id", "to_stage", "changed_at"],
    )
    history["changed_at"] = pd.to_datetime(history["changed_at"], utc=True)
    table = deal_metrics(frame, history, [s.key for s in stages]) if len(frame) else pd.DataFrame()
    out = table.astype(object).where(table.notna(), None).to_dict("records") if len(table) else []
    names = {}
    if by == "owner":
        owners = User.objects.filter(pk__in=[r["group"] for r in out if r["group"] not in ("", NOT_SET)])
        names = {str(u.pk): u.get_full_name() or u.get_username() for u in owners}
    for row in out:
        row["label"] = {"": _("All deals"), NOT_SET: _("not set")}.get(row["group"]) or names.get(row["group"], row["group"])
        row["stages"] = [
            {"stage": s, "reached": row[f"reached_{s.key}"], "conversion": row[f"conversion_{s.key}"],
             "days": row[f"days_in_{s.key}"]}
            for s in stages
        ]  # fmt: skip
    return Report(pipeline, by, start, end, stages, out)
