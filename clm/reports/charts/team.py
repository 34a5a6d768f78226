"""Teams: per sales owner and per CSM — accounts, ARR, the red share of health, the renewal rate
of the contracts that came up in the period (seed 000: the bonus is tied to it), NRR over the
period and overdue tasks. Formulas: clm.analytics.revenue (NRR, renewals)."""

from __future__ import annotations

import pandas as pd
from django.contrib.auth import get_user_model
from django.db.models import Count
from django.utils import timezone

from clm.analytics.revenue import contract_renewals, revenue_retention_by
from clm.automation.models import Task

from ..figures import figure
from ..kpis.base import finite
from ..kpis.stages import latest_bands
from .base import make

ROLES = ("sales_owner", "csm")
COLUMNS = ["role", "person_id", "person", "accounts", "arr", "red_share", "renewed", "lost", "renewal_rate",
           "nrr", "overdue_tasks"]


@figure("team.people")
def people(scope, period) -> dict:
    as_of = period.as_of(scope.today)
    accounts = pd.DataFrame(list(scope.accounts.values_list("pk", "sales_owner_id", "csm_id")),
                            columns=["account_id", "sales_owner", "csm"]).set_index("account_id")
    arr = scope.mrr_at(as_of) * 12 if not scope.mrr.empty else pd.Series(dtype=float)
    red = _red(scope, period)
    ledger = scope.changes  # read once per scope: the MRR's own frame
    changes = ledger[(ledger["effective_date"] >= pd.Timestamp(period.start))
                     & (ledger["effective_date"] <= pd.Timestamp(as_of))].reset_index(drop=True)
    overdue = _overdue(scope)
    end = pd.Period(as_of, "M")
    window = int(end.ordinal - (pd.Period(period.start, "M") - 1).ordinal)
    names = dict(get_user_model().objects.filter(
        pk__in={int(i) for i in set(accounts["sales_owner"].dropna()) | set(accounts["csm"].dropna())}
    ).values_list("pk", "username"))  # the pages show the person's name (clm.web)
    rows, groups = [], {}
    for role in ROLES:
        holder = accounts[role].dropna().astype(int)
        renewals = contract_renewals(changes.assign(person=changes["account_id"].map(holder)).dropna(subset=["person"]),
                                     period.start, as_of, by="person") if not changes.empty else None
        nrr = revenue_retention_by(scope.mrr, holder, window=window, end=end) if not scope.mrr.empty else pd.DataFrame()
        # per person at once (a mean of the scored accounts' red flags skips those not scored)
        arr_of = arr.reindex(holder.index).fillna(0).groupby(holder).sum().to_dict()
        red_of = red.reindex(holder.index).groupby(holder).mean().to_dict()
        renewal_of = renewals.to_dict("index") if renewals is not None else {}
        for person, ids in holder.groupby(holder).groups.items():
            ids = list(ids)
            renewal = renewal_of.get(person)
            rows.append([
                role, int(person), names.get(person, str(person)), len(ids), float(arr_of.get(person, 0.0)),
                finite(red_of.get(person)),
                int(renewal["renewed"]) if renewal is not None else 0, int(renewal["lost"]) if renewal is not None else 0,
                finite(renewal["renewal_rate"]) if renewal is not None else None,
                finite(nrr.at[person, "nrr"]) if person in nrr.index else None, int(overdue.get(person, 0)),
            ])
            groups[f"{role}:{person}"] = ids
    rows.sort(key=lambda r: (ROLES.index(r[0]), -r[4], r[2]))
    return make(scope, period, COLUMNS, rows, groups=groups)


def _red(scope, period) -> pd.Series:
    """1 for an account red on the latest scoring day of the period, 0 for another band."""
    rows = latest_bands(scope, period)
    if rows is None:
        return pd.Series(dtype=float)
    return pd.Series({a: float(b == "red") for a, b in rows})


def _overdue(scope) -> dict[int, int]:
    """Open tasks past their due time per assignee, over the scope's accounts."""
    tasks = scope.records(Task.objects.filter(status=Task.Status.OPEN, due_at__lt=timezone.now(),
                                              assignee__isnull=False))
    return dict(tasks.order_by().values_list("assignee_id").annotate(n=Count("id")).values_list("assignee_id", "n"))
