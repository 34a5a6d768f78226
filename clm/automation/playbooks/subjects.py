"""What a playbook's conditions read: one row per account with the lifecycle metrics of the latest
daily run and the account's own fields (stage, owners, value tier, CLV, custom attributes).

The metrics come from the daily run made in this process when there is one (the daily dispatch
runs right after it), else they are computed once per day and kept; the account's fields are read
live, for the accounts asked about only."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from django.db.models import OuterRef, Subquery

from clm.core.models import CustomField
from clm.customers.models import Account
from clm.lifecycle import metrics as metric_source
from clm.lifecycle import services as lifecycle

ACCOUNT_FIELDS: dict[str, str] = {
    "lifecycle_stage": "text",
    "days_in_stage": "number",
    "sales_owner": "text",  # the username
    "csm": "text",
    "has_sales_owner": "flag",
    "has_csm": "flag",
    "tier": "text",
    "clv": "number",
    "account_age_days": "number",
    "reactivation_potential": "number",  # dormant accounts only (clm.value.services.reactivation)
    "advocate": "flag",  # on the advocates list (clm.value.services.advocacy)
}
CUSTOM_KINDS = {"number": "number", "boolean": "flag"}

_metrics_cache: dict[dt.date, pd.DataFrame] = {}


def fields() -> dict[str, str]:
    """Every field a playbook condition may read, with its kind (for conditions.validate)."""
    custom = {
        f"custom.{key}": CUSTOM_KINDS.get(kind, "text")
        for key, kind in CustomField.objects.filter(target=CustomField.Target.ACCOUNT).values_list(
            "key", "type"
        )
    }
    return {**metric_source.KINDS, **ACCOUNT_FIELDS, **custom}


def metrics(as_of: dt.date) -> pd.DataFrame:
    frame = lifecycle.assessed_metrics(as_of)
    if frame is None:
        frame = _metrics_cache.get(as_of)
    if frame is None:
        frame = lifecycle.assess(as_of, with_stages=False, with_risk=False).metrics
        _metrics_cache.clear()
        _metrics_cache[as_of] = frame
    return frame


def account_fields(as_of: dt.date, ids=None) -> pd.DataFrame:
    """The account's own fields, for ``ids`` (all accounts when None), in one query."""
    from clm.value.models import CLVEstimate, TierAssignment

    rows = Account.objects.all() if ids is None else Account.objects.filter(pk__in=list(ids))
    tier = TierAssignment.objects.filter(account=OuterRef("pk")).order_by("-as_of")
    clv = CLVEstimate.objects.filter(account=OuterRef("pk")).order_by("-as_of")
    values = rows.annotate(
        tier=Subquery(tier.values("tier")[:1]), clv=Subquery(clv.values("value")[:1])
    ).values_list(
        "pk",
        "lifecycle_stage",
        "lifecycle_stage_since",
        "sales_owner__username",
        "csm__username",
        "tier",
        "clv",
        "created_at",
        "custom",
    )
    frame = pd.DataFrame.from_records(
        list(values),
        columns=[
            "account",
            "lifecycle_stage",
            "since",
            "sales_owner",
            "csm",
            "tier",
            "clv",
            "created_at",
            "custom",
        ],
    ).set_index("account")
    day = pd.Timestamp(as_of)
    frame["days_in_stage"] = (day - pd.to_datetime(frame["since"])).dt.days.astype(float)
    created = pd.to_datetime(frame["created_at"], utc=True).dt.tz_localize(None).dt.normalize()
    frame["account_age_days"] = (day - created).dt.days.astype(float)
    frame["has_sales_owner"] = frame["sales_owner"].notna()
    frame["has_csm"] = frame["csm"].notna()
    frame["clv"] = pd.to_numeric(frame["clv"], errors="coerce").astype(float)
    for key in CustomField.objects.filter(target=CustomField.Target.ACCOUNT).values_list("key", flat=True):
        frame[f"custom.{key}"] = [c.get(key) if isinstance(c, dict) else None for c in frame["custom"]]
    frame["reactivation_potential"] = _reactivation(frame, as_of)
    frame["advocate"] = _advocates(frame)
    return frame.drop(columns=["since", "created_at", "custom"])


def _reactivation(frame: pd.DataFrame, as_of: dt.date) -> np.ndarray:
    """The reactivation potential of the dormant accounts (NaN for the others, and no work at all
    when none of them is dormant)."""
    dormant = frame.index[frame["lifecycle_stage"] == "dormant"]
    if not len(dormant):
        return np.full(len(frame), np.nan)
    from clm.value.services import reactivation

    return reactivation.scores(frame.index, as_of).to_numpy(dtype=float)


def _advocates(frame: pd.DataFrame) -> np.ndarray:
    """Which accounts are on the advocates list (no work when none of them is a customer)."""
    from clm.value.services import advocacy

    customers = frame.index[frame["lifecycle_stage"].isin(advocacy.CUSTOMER_STAGES)]
    found = advocacy.advocate_ids(customers.tolist()) if len(customers) else set()
    return frame.index.isin(list(found))


def frame(as_of: dt.date, ids=None, needs: list[str] | None = None) -> pd.DataFrame:
    """The condition frame for ``ids`` (all accounts when None). ``needs``: the fields the caller's
    rules read; the lifecycle metrics are only loaded when one of them is a metric."""
    own = account_fields(as_of, ids)
    wanted = set(needs if needs is not None else metric_source.KINDS)
    if not wanted & set(metric_source.KINDS):
        return own
    measured = metrics(as_of)
    measured = measured.reindex(own.index)
    return pd.concat([measured, own.drop(columns=[c for c in own.columns if c in measured.columns])], axis=1)


def empty_mask(index) -> pd.Series:
    return pd.Series(np.zeros(len(index), dtype=bool), index=index)
