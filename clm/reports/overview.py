"""The overview's figures beside the KPI table: the health bands week by week, the red accounts by
sales owner, and the renewals due in 30, 90 and 180 days with their expected renewal ARR. Each is a
registered figure (clm.reports.figures), so the daily run stores it with the KPI tables and a page
reads it back; codes and ids only, the page names them in its reader's language."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter

from django.db.models import Count, Max

from clm.commerce.models import Subscription
from clm.lifecycle.models import ChurnPrediction, HealthScore

from .figures import figure
from .kpis.base import Scope
from .kpis.revenue import logo_retention
from .kpis.stages import healthy_share
from .periods import Period

BANDS = ("green", "yellow", "red")
RENEWAL_WINDOWS = (30, 90, 180)
MIN_WEEKS = 13
# rules for the probability of renewal, in order of preference
CHURN_MODEL, LOGO_RETENTION, UNKNOWN = "churn_model", "logo_retention", "unknown"


@figure("health_trend")
def health_trend(scope: Scope, period: Period) -> dict:
    """Accounts per health band at the end of each week up to the period's last day (at least
    MIN_WEEKS weeks, the whole period for a quarter or a year): the bands of the latest scoring day
    on or before that week's end. The last point is the healthy-share KPI's breakdown."""
    end = period.as_of(scope.today)
    weeks = max(MIN_WEEKS, math.ceil(((end - period.start).days + 1) / 7))
    week_ends = [end - dt.timedelta(days=7 * k) for k in range(weeks - 1, -1, -1)]
    by_day = _bands_by_day(scope, week_ends[0] - dt.timedelta(days=35))
    days = sorted(d for d in by_day if d <= end)
    points = []
    for week_end in week_ends:
        scored = [d for d in days if d <= week_end]
        if not scored:
            continue
        counts = by_day[scored[-1]]
        points.append({"week": week_end.isoformat(), "scored_on": scored[-1].isoformat(),
                       **{band: int(counts.get(band, 0)) for band in BANDS}})
    return {"points": points}


def _bands_by_day(scope: Scope, since: dt.date) -> dict[dt.date, Counter]:
    """Accounts per band on each scoring day from ``since`` to the scope's day: one query per
    scope, reused by every later period that starts no earlier (the snapshots take the widest first)."""
    loaded = scope.memo("health bands by day", dict)
    if loaded.get("since") is None or since < loaded["since"]:
        rows = (
            scope.records(HealthScore.objects.filter(as_of__lte=scope.today, as_of__gte=since))
            .order_by().values_list("as_of", "band").annotate(n=Count("*"))
        )  # fmt: skip
        by_day: dict[dt.date, Counter] = {}
        for day, band, n in rows:
            by_day.setdefault(day, Counter())[band] += n
        loaded.update(since=since, by_day=by_day)
    return {day: counts for day, counts in loaded["by_day"].items() if day >= since}


@figure("red_by_owner")
def red_by_owner(scope: Scope, period: Period) -> dict:
    """The red accounts of the healthy-share KPI's scoring day, per sales owner (None: no owner),
    with how many of each owner's accounts were scored; most red first."""
    result = healthy_share(scope, period)
    if not result.has_value:
        return {"owners": [], "red": 0, "no_data": result.no_data}
    scored_ids = {i for ids in result.groups.values() for i in ids}
    red_ids = set(result.groups.get("red", []))
    owners = scope.memo("sales_owners", lambda: dict(scope.accounts.values_list("pk", "sales_owner_id")))
    red, scored = Counter(), Counter()
    for account in scored_ids:
        owner = owners.get(account)
        scored[owner] += 1
        if account in red_ids:
            red[owner] += 1
    rows = [{"owner": owner, "red": n, "scored": scored[owner], "share": n / scored[owner]} for owner, n in red.items()]
    rows.sort(key=lambda r: (-r["red"], -r["share"], r["owner"] is None, r["owner"] or 0))
    return {"owners": rows, "red": len(red_ids)}


@figure("renewals")
def renewals(scope: Scope, period: Period) -> dict:
    """Live contracts whose renewal date falls from today to 30, 90 and 180 days ahead, with their
    ARR (12 × MRR) and expected renewal ARR = ARR × probability of renewal, where the probability
    is 1 − the churn model's predicted risk on the latest prediction day, or, for an account
    without a prediction, the company's logo retention over the last complete year. Read as of
    today whatever the period (renewals lie ahead); each contract's components are kept."""
    return scope.memo("renewals", lambda: _renewals(scope))


def _renewals(scope: Scope) -> dict:
    today = scope.today
    horizon = today + dt.timedelta(days=max(RENEWAL_WINDOWS))
    contracts = list(
        scope.records(Subscription.objects.live().filter(renewal_date__gte=today, renewal_date__lte=horizon))
        .order_by("renewal_date", "pk").values_list("pk", "account_id", "renewal_date", "mrr")
    )
    latest = scope.records(ChurnPrediction.objects.filter(as_of__lte=today)).aggregate(day=Max("as_of"))["day"]
    risk = {}
    if latest is not None and contracts:
        due = {account for _pk, account, _day, _mrr in contracts}
        risk = dict(
            scope.records(ChurnPrediction.objects.filter(as_of=latest, account_id__in=due))
            .values_list("account_id", "probability")
        )
    fallback = logo_retention(scope, Period.of("year", today).previous())
    rows = []
    for pk, account, day, mrr in contracts:
        arr = float(mrr) * 12
        if account in risk:
            probability, rule = 1 - float(risk[account]), CHURN_MODEL
        elif fallback.has_value:
            probability, rule = float(fallback.value), LOGO_RETENTION
        else:
            probability, rule = None, UNKNOWN
        rows.append({"contract": pk, "account": account, "renewal_date": day.isoformat(), "arr": arr,
                     "probability": probability, "rule": rule,
                     "expected_arr": None if probability is None else arr * probability})
    columns = list(rows[0]) if rows else []
    windows = []
    for days in RENEWAL_WINDOWS:
        last = (today + dt.timedelta(days=days)).isoformat()
        inside = [r for r in rows if r["renewal_date"] <= last]
        rules = Counter(r["rule"] for r in inside)
        windows.append({
            "days": days, "accounts": len({r["account"] for r in inside}), "contracts": len(inside),
            "arr": sum(r["arr"] for r in inside),
            "expected_arr": sum(r["expected_arr"] for r in inside if r["expected_arr"] is not None),
            "rules": dict(rules),
        })
    return {
        "as_of": today.isoformat(), "windows": windows,
        # each contract's components, one list per contract in the order of "columns" (compact to store)
        "columns": columns, "contracts": [list(r.values()) for r in rows],
        "prediction_day": latest.isoformat() if latest else None,
        "fallback": {"period": Period.of("year", today).previous().label,
                     "rate": fallback.value if fallback.has_value else None},
    }
