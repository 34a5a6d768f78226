"""Lead scoring and the lead list.

1. Scoring 100,000 open leads (two ICPs' rules, the lookalike model with its reasons, engagement
   with decay over 300,000 activities), read from the store and written back: target under 10 s.
   Reference, in the same run: reading the same leads' columns and writing one column back
   (what any bulk rescoring must pay at least).
2. With --pages, the lead centre's pages on an already built demo (server time through the test
   client, as bench/bench_pages.py): target at most 300 ms for the lead list. Reference: the
   accounts list, first page, in the same run.

    python bench/bench_leads.py                                   # 1 on a throwaway SQLite db
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/x python bench/bench_leads.py
    CLM_DATA_DIR=/tmp/demo python bench/bench_leads.py --pages    # 2 on a built demo
"""

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import setup_django, use_current_database  # noqa: E402

LEADS = 100_000
ACTIVITIES = 300_000
TARGET_S = 10.0
PAGE_TARGET_MS = 300
INDUSTRIES = ["制造业", "零售", "医疗", "物流", "金融", "教育", "SaaS/互联网", "专业服务"]
REGIONS = ["华东", "华南", "华北", "华中", "西南", "海外"]


def build(rng):
    from django.utils import timezone

    from clm.analytics import fit as fitting
    from clm.core.bulk import insert
    from clm.demo.leads import ICPS
    from clm.sales.models import ICP, FitModel, Lead, LeadActivity

    for icp in ICPS:
        ICP.objects.create(**icp)
    from django.db import connection

    now = timezone.now()
    stamp = connection.ops.adapt_datetimefield_value  # the driver's form of a datetime
    employees = np.clip(rng.lognormal(np.log(140), 1.0, LEADS), 5, 30000).astype(int)
    frame = {
        "name": [f"联系人{i}" for i in range(LEADS)], "company": [f"公司{i}有限公司" for i in range(LEADS)],
        "email": [f"p{i}@c{i}.cn" for i in range(LEADS)], "status": rng.choice(["mal", "mql", "sql"], LEADS, p=[.6, .3, .1]),
        "industry": rng.choice(INDUSTRIES, LEADS), "region": rng.choice(REGIONS, LEADS),
        "employee_count": employees, "annual_revenue": employees * 900_000.0,
    }
    fields = ["name", "company", "email", "status", "industry", "region", "employee_count", "annual_revenue"]
    defaults = {"phone": "", "title": "", "source_channel": "web", "disqualify_reason": "", "external_id": None, "source": "",
                "domain": "", "tags": "[]", "custom": "{}", "actions": "[]", "icp_rules": "[]", "fit_reasons": "[]",
                "engagement_score": 0.0, "engagement_parts": "{}", "mal_at": stamp(now), "created_at": stamp(now),
                "updated_at": stamp(now)}
    rows = [[*(frame[f][i] for f in fields), *defaults.values()] for i in range(LEADS)]
    rows = [[v.item() if hasattr(v, "item") else v for v in row] for row in rows]
    insert(Lead, [*fields, *defaults], rows)
    ids = np.array(Lead.objects.order_by("pk").values_list("pk", flat=True))
    kinds = rng.choice(["email_open", "email_click", "form", "web", "product"], ACTIVITIES)
    ages = rng.uniform(0, 120, ACTIVITIES)
    activity_rows = [[int(ids[k]), str(kind), stamp(now - dt.timedelta(days=float(a))), "", ""]
                     for k, kind, a in zip(rng.integers(len(ids), size=ACTIVITIES), kinds, ages, strict=True)]
    insert(LeadActivity, ["lead_id", "kind", "at", "name", "key"], activity_rows)
    # A lookalike learned on 4,000 synthetic customers (what it learns does not change its cost).
    n = 4000
    customers = pd.DataFrame({
        "industry": rng.choice(INDUSTRIES, n), "region": rng.choice(REGIONS, n),
        "employee_count": np.clip(rng.lognormal(np.log(140), 1.0, n), 5, 30000), "tags": [[]] * n, "custom": [{}] * n,
        "customer_since": pd.date_range("2020-01-01", periods=n, freq="6h"),
    })
    customers["annual_revenue"] = customers["employee_count"] * 900_000.0
    good = (customers["industry"] == "制造业") ^ (rng.random(n) < 0.2)
    model = fitting.train_lookalike(customers, pd.Series(good.astype(int), dtype="Int64"))
    del model.test_index
    FitModel.objects.create(as_of=dt.date.today(), report=model.report, blob=model.dumps())


def scoring_bench():
    label = setup_django("leads")
    from clm.core.bulk import save_fields
    from clm.core.frames import read_frame
    from clm.sales import scoring
    from clm.sales.models import Lead

    rng = np.random.default_rng(7)
    started = time.perf_counter()
    build(rng)
    print(f"database: {label}; built {LEADS:,} leads and {ACTIVITIES:,} activities in {time.perf_counter() - started:.0f} s")

    started = time.perf_counter()
    frame = read_frame(Lead.objects.order_by("pk").values_list("id", "industry", "region", "employee_count"),
                       ["id", "industry", "region", "employee_count"])
    save_fields([Lead(pk=pk, engagement_score=0.0) for pk in frame["id"]], ["engagement_score"])
    reference = time.perf_counter() - started

    from django.utils import timezone

    started, cpu = time.perf_counter(), time.process_time()
    now, settings, icps = timezone.now(), scoring.scoring_settings(), scoring.active_icps()
    leads = scoring.lead_frame()
    activities = scoring.activity_frame(leads.index.tolist(), now, settings.half_life_days)
    read = time.perf_counter() - started
    scoring.compute(leads, activities, settings, icps, scoring.latest_model()[1], now)
    computed = time.perf_counter() - started - read
    print(f"  of which: reading {read:.2f} s, computing {computed:.2f} s (pure: clm.analytics), "
          f"CPU of this process {time.process_time() - cpu:.2f} s")

    started, cpu = time.perf_counter(), time.process_time()
    counts = scoring.score_leads()
    took, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"  the whole scoring: CPU of this process {cpu:.2f} s (SQLite runs in this process: its work is counted); "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"reference (read the leads, write one column back): {reference:.2f} s")
    print(f"scoring {counts['scored']:,} leads (rules, lookalike with reasons, engagement): {took:.2f} s "
          f"({took / reference:.1f}× the reference; target under {TARGET_S:.0f} s: {'met' if took < TARGET_S else 'MISSED'} "
          f"on wall time, {'met' if cpu < TARGET_S else 'MISSED'} on CPU time)")
    sample = Lead.objects.order_by("-fit_score").first()
    print(f"best-scored lead: fit {sample.fit_score}, rules {sample.icp_score}, engagement {sample.engagement_score}, "
          f"reasons {sample.fit_reasons}")


def pages_bench(repeat: int):
    label = use_current_database()
    from django.test import Client
    from django.urls import reverse

    from clm.core.models import User
    from clm.sales.models import Lead

    user = User.objects.filter(is_superuser=True).order_by("pk").first() or User.objects.get(username="admin")
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-CN")
    client.force_login(user)
    lead = Lead.objects.filter(status__in=["mal", "mql", "sql"]).order_by("-fit_score").values_list("pk", flat=True).first()
    print(f"database: {label}; {Lead.objects.count():,} leads")
    todo = [("Accounts, first page (reference)", reverse("web:accounts")), ("Lead list, first page", reverse("web:leads")),
            ("Lead list, MQL by engagement", f"{reverse('web:leads')}?status=mql&sort=engagement"),
            ("Lead page", reverse("web:lead", args=[lead])), ("Funnel by channel", f"{reverse('web:lead_funnel')}?by=source_channel"),
            ("ICP and fit", reverse("web:lead_fit"))]
    results = {}
    for name, url in todo:
        assert client.get(url).status_code == 200, url
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            client.get(url)
            times.append((time.perf_counter() - started) * 1000)
        results[name] = float(np.median(times))
    reference = results[todo[0][0]]
    for name, median in results.items():
        verdict = "" if name.startswith("Accounts") else f"; target {PAGE_TARGET_MS} ms: {'met' if median <= PAGE_TARGET_MS else 'MISSED'}"
        print(f"{name:<36} median {median:7.1f} ms ({median / reference:.2f}× the accounts list{verdict})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", action="store_true", help="measure the lead pages on the database the environment names")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    if args.pages:
        pages_bench(args.repeat)
    else:
        scoring_bench()


if __name__ == "__main__":
    main()
