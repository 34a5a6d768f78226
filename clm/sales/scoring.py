"""Fit and engagement scores of leads and accounts: the ICP rules and the lookalike model
(clm.analytics.fit) side by side, engagement with decay (clm.analytics.funnel), stored with what
they were made of; `lead.fit_changed` when a lead's fit moves by a band. Read in bulk, computed
vectorised, written back in one pass (clm.core.bulk.save_fields)."""

from __future__ import annotations

import datetime as dt
import json
from contextlib import closing
from typing import TYPE_CHECKING

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from clm.core import events
from clm.core.bulk import in_batches, quote, save_fields
from clm.customers.models import Account
from clm.sales.models import ICP, AccountFit, FitModel, Lead, LeadActivity, LeadScoring

# numpy, pandas and scikit-learn are imported where they are used: the app's start-up needs none
if TYPE_CHECKING:
    import pandas as pd

    from clm.analytics import fit as fitting

DEFAULT_POINTS = {"email_open": 2, "email_click": 5, "form": 15, "web": 3, "product": 8, "meeting": 20}
DEFAULT_CRITERIA = {
    "mql": {"min_fit": 40, "min_engagement": 15},
    "sql": {"min_fit": 50, "min_engagement": 35, "actions": ["demo_requested", "pricing_requested", "meeting_held"]},
}
BAND_WIDTH = 20  # fit bands: 0–19, 20–39, 40–59, 60–79, 80–100
OPEN = (Lead.Status.MAL, Lead.Status.MQL, Lead.Status.SQL)
LEAD_FIELDS = ("icp", "icp_score", "icp_rules", "fit_score", "fit_reasons", "engagement_score",
               "engagement_parts", "scored_at")


def scoring_settings() -> LeadScoring:
    row, _ = LeadScoring.objects.get_or_create(
        pk=1, defaults={"points": DEFAULT_POINTS, "criteria": DEFAULT_CRITERIA}
    )
    return row


def active_icps() -> list[dict]:
    return [
        {"id": pk, "key": key, "rules": rules, "match_at": match_at}
        for pk, key, rules, match_at in ICP.objects.filter(active=True).values_list("id", "key", "rules", "match_at")
    ]


def band(score) -> int | None:
    return None if score is None or score != score else min(4, int(score // BAND_WIDTH))


def shown_fit(lead) -> float | None:
    """The fit a lead's stage criteria and band read: the learned score, else the rules' score."""
    return lead.fit_score if lead.fit_score is not None else lead.icp_score


# -- reading firmographics ------------------------------------------------------------------------


def _json(values: pd.Series, empty):
    return values.map(lambda v: empty() if v is None else (json.loads(v) if isinstance(v, str) else v))


def lead_frame(ids=None) -> pd.DataFrame:
    """Open leads (or those with ``ids``): firmographics and the scores they have now."""
    from clm.core.frames import money, read_frame

    queryset = Lead.objects.order_by("pk")
    queryset = queryset.filter(status__in=OPEN) if ids is None else queryset.filter(pk__in=list(ids) or [0])
    columns = ["id", "industry", "region", "employee_count", "annual_revenue", "tags", "custom",
               "status", "actions", "fit_score", "icp_score"]
    query = queryset.values_list("id", "industry", "region", "employee_count", money("annual_revenue"), "tags",
                                 "custom", "status", "actions", "fit_score", "icp_score")
    frame = read_frame(query, columns)
    for name, empty in (("tags", list), ("custom", dict), ("actions", list)):
        frame[name] = _json(frame[name], empty)
    return frame.set_index("id", drop=False)


def account_frame(ids=None) -> pd.DataFrame:
    from clm.core.frames import money, read_frame

    queryset = Account.objects.order_by("pk")
    if ids is not None:
        queryset = queryset.filter(pk__in=list(ids) or [0])  # an empty IN () is no query at all
    columns = ["id", "industry", "region", "employee_count", "annual_revenue", "custom", "customer_since",
               "lifecycle_stage"]
    frame = read_frame(
        queryset.values_list("id", "industry", "region", "employee_count", money("annual_revenue"), "custom",
                             "customer_since", "lifecycle_stage"),
        columns,
    )
    frame["custom"] = _json(frame["custom"], dict)
    through = Account.tags.through
    tags: dict[int, list[str]] = {}
    for account_id, value in through.objects.values_list("account_id", "tag__value"):
        tags.setdefault(account_id, []).append(value)
    frame["tags"] = frame["id"].map(lambda pk: tags.get(pk, []))
    return frame.set_index("id", drop=False)


# -- the lookalike model ---------------------------------------------------------------------------

_model_cache: dict[int, fitting.Lookalike] = {}


def latest_model() -> tuple[FitModel | None, fitting.Lookalike | None]:
    from clm.analytics import fit as fitting

    row = FitModel.objects.defer("blob").first()
    if row is None:
        return None, None
    if row.pk not in _model_cache:
        _model_cache.clear()
        _model_cache[row.pk] = fitting.Lookalike.loads(FitModel.objects.values_list("blob", flat=True).get(pk=row.pk))
    return row, _model_cache[row.pk]


@transaction.atomic
def train_fit(outcomes: pd.DataFrame, as_of: dt.date) -> FitModel:
    """Learn the lookalike from ``outcomes`` (account_id, clv, tenure_days, churned), store it with
    the held-out report of both the model and the ICP rules, and rescore. Raises
    clm.analytics.fit.NotEnoughCustomers when there are too few good or poor customers."""
    import pandas as pd

    from clm.analytics import fit as fitting

    if outcomes.empty:
        raise fitting.NotEnoughCustomers("no customer has a lifetime value yet")
    accounts = account_frame(outcomes["account_id"].tolist())
    known = outcomes.set_index("account_id").reindex(accounts.index)
    labels = fitting.label_outcomes(known.assign(churned=known["churned"].fillna(False).astype(bool)))
    customers = accounts.assign(customer_since=pd.to_datetime(accounts["customer_since"]))
    model = fitting.train_lookalike(customers, labels)
    test = customers.loc[model.test_index]
    rules = fitting.rule_scores(test, active_icps())
    y = labels.loc[model.test_index].astype(int).to_numpy()
    model.report["rules"] = (
        fitting.separation(y, rules.best_score.fillna(0).to_numpy()) if len(rules.scores.columns) else None
    )
    model.report["labels"] = {"good": int((labels == 1).sum()), "poor": int((labels == 0).sum())}
    del model.test_index
    row = FitModel.objects.create(as_of=as_of, report=model.report, blob=model.dumps())
    return row


def score_accounts(ids=None, now=None) -> int:
    """Store each account's fit (rules and lookalike)."""
    import numpy as np

    from clm.analytics import fit as fitting

    now = now or timezone.now()
    frame = account_frame(ids)
    if frame.empty:
        return 0
    icps = active_icps()
    ids_by_key = {i["key"]: i["id"] for i in icps}
    rules = fitting.rule_scores(frame, icps)
    _row, model = latest_model()
    scores = model.score(frame) if model else np.full(len(frame), np.nan)
    reasons = model.reasons(frame) if model else [[] for _ in range(len(frame))]
    held = _held(rules, icps)
    existing = dict(AccountFit.objects.values_list("account_id", "pk"))
    rows = []
    for i, pk in enumerate(frame.index):
        key = rules.best_icp.iloc[i]
        rows.append(AccountFit(
            pk=existing.get(pk), account_id=pk, icp_id=ids_by_key.get(key), icp_score=_num(rules.best_score.iloc[i]),
            icp_rules=held[i], fit_score=_num(scores[i]), fit_reasons=reasons[i], scored_at=now,
        ))
    with transaction.atomic():
        save_fields([r for r in rows if r.pk], ["icp", "icp_score", "icp_rules", "fit_score", "fit_reasons", "scored_at"])
        AccountFit.objects.bulk_create([r for r in rows if not r.pk], batch_size=2000)
    return len(rows)


def _held(rules: fitting.RuleScores, icps) -> list[list[int]]:
    """For each row, the indexes of its best ICP's rules that held."""
    import numpy as np

    out = []
    for i, key in enumerate(rules.best_icp.tolist()):
        out.append([] if key is None or key != key else [int(j) for j in np.flatnonzero(rules.held[key][i])])
    return out


def _num(value):
    return None if value is None or value != value else float(value)


# -- scoring leads ---------------------------------------------------------------------------------


def compute(frame: pd.DataFrame, activities: pd.DataFrame, settings: LeadScoring, icps, model, as_of):
    """The scores of the leads in ``frame``, as columns beside it (pure but for nothing: no query)."""
    import numpy as np
    import pandas as pd

    from clm.analytics import fit as fitting
    from clm.analytics import funnel

    rules = fitting.rule_scores(frame, icps)
    out = pd.DataFrame(index=frame.index)
    ids_by_key = {i["key"]: i["id"] for i in icps}
    out["icp_id"] = rules.best_icp.map(ids_by_key)
    out["icp_score"] = rules.best_score
    out["icp_rules"] = _held(rules, icps)
    out["fit_score"] = model.score(frame) if model is not None else np.nan
    out["fit_reasons"] = model.reasons(frame) if model is not None else [[] for _ in range(len(frame))]
    points = settings.points or DEFAULT_POINTS
    eng = funnel.engagement(activities, points, settings.half_life_days, as_of).reindex(frame.index, fill_value=0.0)
    out["engagement_score"] = eng["score"]
    out["engagement_parts"] = [
        {k: round(float(v), 1) for k, v in row.items() if v >= 0.05}
        for row in eng.drop(columns="score").to_dict("records")
    ]
    return out


def activity_frame(lead_ids, as_of, half_life_days) -> pd.DataFrame:
    """Activities of these leads recent enough to count (ten half-lives: under 0.1% remains)."""
    import pandas as pd

    from clm.analytics import funnel
    from clm.core.frames import read_frame

    since = as_of - dt.timedelta(days=10 * half_life_days)
    parts = [
        read_frame(
            LeadActivity.objects.filter(lead_id__in=batch, at__gte=since, at__lte=as_of).values_list("lead_id", "kind", "at"),
            funnel.ACTIVITY_COLUMNS,
        )
        for batch in in_batches(list(lead_ids))
    ]
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=funnel.ACTIVITY_COLUMNS)


def score_leads(ids=None, *, now=None, actor=None) -> dict:
    """Score the open leads (or ``ids``), store the scores and what they were made of, and say
    `lead.fit_changed` for each lead whose fit moved by a band. Returns counts."""
    now = now or timezone.now()
    settings = scoring_settings()
    frame = lead_frame(ids)
    if frame.empty:
        return {"scored": 0, "fit_changed": 0}
    _row, model = latest_model()
    activities = activity_frame(frame.index.tolist(), now, settings.half_life_days)
    scores = compute(frame, activities, settings, active_icps(), model, now)
    before = frame["fit_score"].where(frame["fit_score"].notna(), frame["icp_score"])
    after = scores["fit_score"].where(scores["fit_score"].notna(), scores["icp_score"])
    stamp = connection.ops.adapt_datetimefield_value(now)
    dumps = json.dumps
    rows = [
        [_int(r.icp_id), _num(r.icp_score), dumps(r.icp_rules), _num(r.fit_score),
         dumps(r.fit_reasons, ensure_ascii=False), float(r.engagement_score), dumps(r.engagement_parts), stamp, int(pk)]
        for pk, r in zip(scores.index, scores.itertuples(index=False), strict=True)
    ]
    # A first score is no move: only a lead scored before whose fit crossed a band is said.
    moved = [
        {"lead_id": int(pk), "before": _num(b), "after": _num(a), "band_before": band(b), "band_after": band(a)}
        for pk, b, a in zip(frame.index, before, after, strict=True)
        if b == b and b is not None and band(b) != band(a)
    ]
    with transaction.atomic():
        _save_scores(rows)
        events.emit_many("lead.fit_changed", moved, actor=actor)
    return {"scored": len(rows), "fit_changed": len(moved)}


def _save_scores(rows: list[list]) -> None:
    """One UPDATE per lead through the driver's executemany, values serialised once (as
    clm.core.bulk.save_fields, without a model instance per row)."""
    meta = Lead._meta
    columns = [meta.get_field(name).column for name in LEAD_FIELDS]
    mark = "%s" if connection.vendor == "postgresql" else "?"
    sets = ", ".join(f"{quote(c)} = {mark}" for c in columns)
    sql = f"UPDATE {quote(meta.db_table)} SET {sets} WHERE {quote(meta.pk.column)} = {mark}"
    connection.ensure_connection()
    with connection.wrap_database_errors, closing(connection.connection.cursor()) as cursor:
        for batch in in_batches(rows, 5000):
            cursor.executemany(sql, batch)


def _int(value):
    return None if value is None or value != value else int(value)


def last_scored() -> dt.datetime | None:
    return Lead.objects.aggregate(at=Max("scored_at"))["at"]
