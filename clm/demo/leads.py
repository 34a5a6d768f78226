"""The demo company's lead centre: two ICPs (by product line), the leads' firmographics (a
converted lead's are its account's; an open lead's are drawn from the same market the customers
came from), recent engagement of the open leads, assignment rules per sales region, and then the
fit step of the daily run (the lookalike learned from the customers, scores, moves, assignment).
Customers' behaviour is untouched: this only describes the leads the simulator made."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from django.contrib.auth import get_user_model
from django.utils import timezone

from clm.core.bulk import save_fields
from clm.core.frames import money, read_frame
from clm.customers.models import Account
from clm.demo import names as P
from clm.demo.catalogue import SALES_TEAMS
from clm.lifecycle import fit as lead_fit
from clm.sales.models import ICP, AssignmentRule, Lead, LeadActivity
from clm.sales.scoring import DEFAULT_CRITERIA, DEFAULT_POINTS, scoring_settings

ICPS = [
    {"key": "mes-manufacturing", "name": "制造业中大型企业", "product_line": "MES 制造执行", "match_at": 70, "rules": [
        {"field": "industry", "op": "in", "value": ["制造业"], "weight": 4},
        {"field": "size_band", "op": "in", "value": ["200-999", "1000+"], "weight": 3},
        {"field": "region", "op": "in", "value": ["华东", "华南"], "weight": 2},
        {"field": "annual_revenue", "op": "between", "value": [100_000_000, None], "weight": 1},
    ]},
    {"key": "collab-services", "name": "成长型服务企业", "product_line": "协同办公", "match_at": 60, "rules": [
        {"field": "industry", "op": "in", "value": ["SaaS/互联网", "专业服务", "零售", "物流"], "weight": 3},
        {"field": "size_band", "op": "in", "value": ["50-199", "200-999"], "weight": 2},
        {"field": "region", "op": "not_in", "value": ["海外"], "weight": 1},
    ]},
]
# activity kind -> (mean events per open lead in the last 90 days, by stage mal/mql/sql)
ACTIVITY_RATES = {"email_open": (1.5, 4, 6), "email_click": (0.4, 1.5, 3), "form": (0.3, 1.0, 1.5),
                  "web": (1.0, 3, 5), "product": (0.0, 0.5, 2), "meeting": (0.0, 0.1, 0.8)}
PAGES = ["/pricing", "/solutions/mes", "/cases", "/docs/integration", "/blog/数字化转型"]
FORMS = ["webinar-signup", "whitepaper-download", "contact-sales", "trial-request"]


def build(as_of: dt.date, seed: int = 17) -> dict:
    rng = np.random.default_rng(seed)
    for icp in ICPS:
        ICP.objects.update_or_create(key=icp["key"], defaults={k: v for k, v in icp.items() if k != "key"})
    settings = scoring_settings()
    settings.points, settings.criteria = DEFAULT_POINTS, DEFAULT_CRITERIA
    settings.save()
    _firmographics(rng)
    activities = _engagement(rng, as_of)
    _rules()
    summary = lead_fit.daily(as_of, now=_end_of(as_of), retrain=True)  # the rules' report needs the ICPs
    return {"icps": len(ICPS), "activities": activities, **summary}


def _end_of(day: dt.date) -> dt.datetime:
    now = timezone.now()
    return now if day >= timezone.localdate() else timezone.make_aware(dt.datetime.combine(day, dt.time(18)))


def _industry_of(company: str) -> str:
    """The industry the simulator named the company after (培训学校 → 教育; the longest word wins:
    电子商务 is retail, 电子 manufacturing)."""
    found = [(len(word), industry) for industry, spec in P.INDUSTRIES.items()
             for word in (*spec[2], *spec[3]) if word in company]
    return max(found)[1] if found else ""


def _region_of(company: str) -> str:
    for region, _province, _city, city_name, _weight in P.CHINA_CITIES:
        if company.startswith(city_name):
            return region
    return "海外" if company.isascii() else ""


def _firmographics(rng) -> None:
    """A converted lead's firmographics are its account's; an open lead's industry and region are
    read from the name the simulator gave it, its size drawn from the customers of that industry."""
    accounts = read_frame(
        Account.objects.order_by("pk").values_list("pk", "industry", "region", "employee_count", money("annual_revenue")),
        ["id", "industry", "region", "employee_count", "annual_revenue"],
    ).set_index("id")
    leads = list(Lead.objects.only("pk", "account_id", "email", "company").order_by("pk"))
    if accounts.empty or not leads:
        return
    by_industry = {k: part[["employee_count", "annual_revenue"]].to_numpy(float) for k, part in accounts.groupby("industry")}
    everyone = accounts[["employee_count", "annual_revenue"]].to_numpy(float)
    for lead in leads:
        if lead.account_id in accounts.index:
            row = accounts.loc[lead.account_id]
            industry, region, employees, revenue = row["industry"], row["region"], row["employee_count"], row["annual_revenue"]
        else:  # a company from the same market, of a size its industry's customers have
            industry, region = _industry_of(lead.company), _region_of(lead.company)
            sizes = by_industry.get(industry, everyone)
            employees, revenue = sizes[rng.integers(len(sizes))] * rng.lognormal(0, 0.4)
        lead.industry, lead.region = industry or "", region or ""
        lead.employee_count = None if pd.isna(employees) else max(5, int(employees))
        lead.annual_revenue = None if pd.isna(revenue) else round(float(revenue), -4)
        lead.domain = lead.email.rpartition("@")[2] if "@" in lead.email else ""
    save_fields(leads, ["industry", "region", "employee_count", "annual_revenue", "domain"])


def _engagement(rng, as_of: dt.date) -> int:
    """Opens, clicks, forms, visits and meetings of the open leads over the last 90 days; SQLs
    mostly asked for a demo."""
    end = _end_of(as_of)
    open_leads = list(Lead.objects.filter(status__in=["mal", "mql", "sql"]).values_list("pk", "status", "mal_at"))
    stage_index = {"mal": 0, "mql": 1, "sql": 2}
    rows, actions = [], []
    for pk, status, came in open_leads:
        s = stage_index[status]
        span = max(1.0, min(90.0, (end - came).total_seconds() / 86400))
        interest = rng.gamma(2.0, 0.5)  # some leads are keener than others
        for kind, rates in ACTIVITY_RATES.items():
            for _ in range(rng.poisson(rates[s] * interest * span / 90 + (0.2 if s else 0))):
                at = end - dt.timedelta(days=float(rng.uniform(0, span)))
                name = {"web": PAGES, "form": FORMS}.get(kind)
                rows.append(LeadActivity(lead_id=pk, kind=kind, at=at, name=name[rng.integers(len(name))] if name else ""))
        if s == 2 and rng.random() < 0.7:
            actions.append(Lead(pk=pk, actions=[["demo_requested", "pricing_requested", "meeting_held"][rng.integers(3)]]))
    LeadActivity.objects.bulk_create(rows, batch_size=2000)
    save_fields(actions, ["actions"])
    return len(rows)


def _rules() -> None:
    """One territory rule per sales team (its reps, 40 open leads each at most), then round robin."""
    users = get_user_model().objects.filter(groups__name="Sales", is_active=True).select_related("team")
    by_team: dict[str, list] = {}
    for user in users:
        by_team.setdefault(user.team.name if user.team else "", []).append(user)
    AssignmentRule.objects.all().delete()
    position = 0
    for team, regions in SALES_TEAMS.items():
        if by_team.get(team):
            position += 1
            rule = AssignmentRule.objects.create(position=position, name=team, kind="territory", values=list(regions), capacity=40)
            rule.reps.set(by_team[team])
    if users:
        rule = AssignmentRule.objects.create(position=position + 1, name="轮询分配", kind="round_robin", capacity=60)
        rule.reps.set(list(users))
