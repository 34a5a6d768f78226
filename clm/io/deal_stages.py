"""Deals' pipelines and stages in an import: a pipeline named by its key or its name (in either
language; blank: the deal type's default), and a stage by its key, its name in either language,
or, for a built-in stage, the names CRMs export it under. A row naming an unknown pipeline or a
stage its pipeline does not have is refused, naming what there is."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
from django.utils import translation
from django.utils.translation import gettext as _

from clm.io.kinds import OPPORTUNITY_STAGE_ALIASES, token
from clm.sales.models import Pipeline

if TYPE_CHECKING:
    from clm.io.validate import Context, Problems


def _names(labelled) -> set[str]:
    out = {token(labelled.key)}
    for language in ("en", "zh-hans"):
        with translation.override(language):
            out.add(token(labelled.label))
    return out


def resolve(ctx: Context, data: pd.DataFrame, texts: dict, problems: Problems) -> None:
    """data["pipeline_id"] from the pipeline column, and data["stage"] as the key in the row's pipeline."""
    if "pipeline" not in data and "stage" not in data:
        return
    pipelines = list(Pipeline.objects.prefetch_related("stages"))
    by_name = {name: p for p in pipelines for name in _names(p)}
    defaults = {p.type: p for p in pipelines if p.is_default}
    stages = {}
    for p in pipelines:
        lookup = {}
        for s in p.stages.all():
            for name in (*_names(s), *(token(a) for a in OPPORTUNITY_STAGE_ALIASES.get(s.key, ()))):
                lookup.setdefault(name, s.key)
        stages[p.pk] = lookup
    n = len(data)
    named = data["pipeline"].fillna("").astype(str) if "pipeline" in data else pd.Series("", index=data.index)
    chosen = named.map(lambda text: by_name.get(token(text)) if text else None)
    if "pipeline" in data:
        column = ctx.mapping.column_name("pipeline")
        known = ", ".join(p.label for p in pipelines)
        problems.add((named != "") & chosen.isna(), column, texts["pipeline"],
                     _("no pipeline has this key or name; the pipelines are: %(names)s") % {"names": known})  # fmt: skip
        data["pipeline_id"] = pd.array([p.pk if p else None for p in chosen], dtype="Int64")
    types = data["type"].fillna("").astype(str) if "type" in data else pd.Series("", index=data.index)
    # an unknown pipeline is refused above; its row's stage is not judged against another one
    effective = [p or (defaults.get(t or "new") if not text else None) for p, t, text in zip(chosen, types, named, strict=True)]
    if "stage" not in data:
        return
    given = data["stage"].fillna("").astype(str)
    keys, wrong = [], []
    for i in range(n):
        pipeline, text = effective[i], given.iloc[i]
        if pipeline is None:
            keys.append(text or None)  # no pipelines at all, or an unknown one: refused above
            wrong.append("")
            continue
        first = next(iter(pipeline.stages.all()), None)
        key = stages[pipeline.pk].get(token(text)) if text else (first.key if first else None)
        keys.append(key)
        wrong.append("" if key or not text else _("is not a stage of the pipeline “%(pipeline)s”; its stages are: %(stages)s") % {
            "pipeline": pipeline.label, "stages": ", ".join(f"{s.key} ({s.label})" for s in pipeline.stages.all())})  # fmt: skip
    reasons = pd.Series(wrong, index=data.index, dtype=object)
    problems.add(reasons != "", ctx.mapping.column_name("stage"), texts["stage"], reasons)
    data["stage"] = pd.Series(keys, index=data.index, dtype=object)
