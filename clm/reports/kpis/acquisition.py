"""Acquisition KPIs: leads and their funnel (MAL → MQL → SQL → won), opportunities won, the sales
cycle, and how people engage with the emails sent (clm.sales, clm.automation's deliveries)."""

from __future__ import annotations

import pandas as pd
from django.db.models import Count, F, Q
from django.utils.translation import gettext as _

from clm.automation.models import Delivery
from clm.sales.models import ICP, Lead, Opportunity

from .base import Result, Scope, mean, missing, share


def not_by_segment() -> str:
    return _("Leads have no industry, region or owner's team until they convert: this KPI is not split by segment.")


def _leads(scope: Scope):
    return scope.visible(Lead)


def new_leads(scope: Scope, period) -> Result:
    if scope.segment:
        return missing(not_by_segment())
    start, end = scope.day_range(period)
    leads = _leads(scope).filter(mal_at__gte=start, mal_at__lt=end)
    count = leads.count()
    if not count and not _leads(scope).exists():
        return missing(_("No lead is recorded yet."))
    ids = leads.exclude(account=None).values_list("account_id", flat=True).distinct()
    return Result(value=float(count), numerator=float(count), account_ids=sorted(ids))


def icp_match(scope: Scope, period) -> Result:
    """New leads of the period whose best ICP's rule score reaches that ICP's match score, over
    the new leads; matches per ICP (by key) in the breakdown."""
    if scope.segment:
        return missing(not_by_segment())
    if not ICP.objects.filter(active=True).exists():
        return missing(_("No ideal customer profile (ICP) is defined yet, so leads cannot be matched to one."))
    start, end = scope.day_range(period)
    leads = _leads(scope).filter(mal_at__gte=start, mal_at__lt=end)
    matched = leads.filter(icp__isnull=False, icp_score__gte=F("icp__match_at"))
    per_icp = dict(matched.order_by().values_list("icp__key").annotate(n=Count("pk")))
    ids = matched.exclude(account=None).values_list("account_id", flat=True).distinct()
    return share(sum(per_icp.values()), leads.count(), ids, breakdown={k: float(v) for k, v in per_icp.items()},
                 when_empty=_("No lead came in during %(period)s.") % {"period": period.label})


def lead_conversion(scope: Scope, period) -> Result:
    """Leads that came in during the period, and how far they have got: MQL, SQL, won."""
    if scope.segment:
        return missing(not_by_segment())
    start, end = scope.day_range(period)
    funnel = _leads(scope).filter(mal_at__gte=start, mal_at__lt=end).aggregate(
        leads=Count("pk"), mql=Count("mql_at"), sql=Count("sql_at"), won=Count("converted_at"),
        opportunity=Count("pk", filter=Q(opportunity_at__isnull=False) | Q(converted_at__isnull=False)),
    )
    won_ids = (
        _leads(scope).filter(mal_at__gte=start, mal_at__lt=end, converted_at__isnull=False)
        .exclude(account=None).values_list("account_id", flat=True).distinct()
    )
    return share(funnel["won"], funnel["leads"], won_ids,
                 breakdown={k: float(funnel[k]) for k in ("leads", "mql", "sql", "opportunity", "won")},
                 when_empty=_("No lead came in during %(period)s.") % {"period": period.label})


def win_rate(scope: Scope, period) -> Result:
    """Opportunities closed in the period: won / (won + lost) — 项目赢单率."""

    def load(first):
        closed = scope.records(Opportunity.objects.filter(
            stage__in=Opportunity.CLOSED, closed_on__gte=first, closed_on__lte=scope.today))
        return pd.DataFrame(list(closed.order_by().values_list("account_id", "stage", "closed_on")),
                            columns=["account_id", "stage", "closed_on"])

    closed = scope.dated("closed opportunities", period, load)
    closed = closed[scope.inside(period, closed["closed_on"])]
    won_rows = closed[closed["stage"] == Opportunity.Stage.WON]
    won = len(won_rows)
    total = won + int((closed["stage"] == Opportunity.Stage.LOST).sum())
    ids = won_rows["account_id"].dropna().unique()
    return share(won, total, ids, breakdown={"won": float(won), "lost": float(total - won)},
                 when_empty=_("No opportunity was closed in %(period)s.") % {"period": period.label})


def sales_cycle(scope: Scope, period) -> Result:
    """Mean days from a lead's arrival (MAL) to its conversion, for the leads converted in the period."""
    if scope.segment:
        return missing(not_by_segment())
    start, end = scope.day_range(period)
    rows = list(
        _leads(scope).filter(converted_at__gte=start, converted_at__lt=end)
        .values_list("account_id", "mal_at", "converted_at")
    )
    days = pd.Series([(won - came).total_seconds() / 86400 for _a, came, won in rows], dtype=float)
    return mean(days, [a for a, _c, _w in rows if a is not None],
                when_empty=_("No lead was converted in %(period)s.") % {"period": period.label})


def _emails(scope: Scope, period):
    start, end = scope.day_range(period)
    return scope.records(Delivery.objects.filter(
        channel=Delivery.Channel.EMAIL, status=Delivery.Status.SENT, sent_at__gte=start, sent_at__lt=end,
    ))


def _engagement(scope: Scope, period, field: str) -> Result:
    def load():
        emails = _emails(scope, period)
        counts = emails.aggregate(sent=Count("pk"), opened_at=Count("opened_at"), clicked_at=Count("clicked_at"))
        engaged = list(emails.filter(account__isnull=False).filter(Q(opened_at__isnull=False) | Q(clicked_at__isnull=False))
                       .order_by().values("account_id")
                       .annotate(opened_at=Count("opened_at"), clicked_at=Count("clicked_at"))
                       .values_list("account_id", "opened_at", "clicked_at"))
        return counts, engaged

    counts, engaged = scope.memo(("email engagement", period.label), load)  # both rates, one read
    column = 1 if field == "opened_at" else 2
    ids = [row[0] for row in engaged if row[column]]
    return share(counts[field], counts["sent"], ids,
                 when_empty=_("No email was sent in %(period)s.") % {"period": period.label})


def email_open_rate(scope: Scope, period) -> Result:
    return _engagement(scope, period, "opened_at")


def email_click_rate(scope: Scope, period) -> Result:
    return _engagement(scope, period, "clicked_at")
