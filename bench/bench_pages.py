"""Server time and query count of each workspace page on the 10,000-account demo company.
Target: no page over 300 ms (median), and the account page's queries independent of its history.
A fresh build also stores the KPI snapshots the daily run stores each morning, which company-wide
pages read (the admin's home, the dashboard); a dashboard narrowed to one industry is computed
live, and is measured as such.

Times are measured in-process through Django's test client (routing, middleware, views, queries,
templates: everything but the network), after one warm-up request per page. Each page's median is
also printed as a ratio to a reference measured in the same run: the Preferences page (the same
base template, menu and middleware, and no customer data), so figures compare across machines.
`--save FILE` keeps a run's figures; `--baseline FILE` prints them beside this run's ("before",
and "after ÷ before" of the ratios to each run's reference, so a busier machine does not read as a
slower page), for a change measured on the same demo.

    python bench/bench_pages.py                        # builds the demo in a throwaway SQLite db (~70 s)
    python bench/bench_pages.py --use-current --save before.json     # then change the code, and
    python bench/bench_pages.py --use-current --baseline before.json
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/x python bench/bench_pages.py
    CLM_DATA_DIR=/tmp/demo python bench/bench_pages.py --use-current   # an already simulated database
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import setup_django, use_current_database  # noqa: E402

TARGET_MS = 300
REFERENCE = "Preferences (reference)"


def pages(admin, csm):
    """(label, user, url) of each page to measure, chosen from the data."""
    from urllib.parse import urlencode

    from django.db.models import Count
    from django.urls import reverse

    from clm.customers.models import Account, Contact

    busiest = Account.objects.annotate(n=Count("interactions")).order_by("-n").values_list("pk", "name", "n").first()
    contact = Contact.objects.filter(account_id=busiest[0]).values_list("pk", flat=True).first()
    chinese = next((n[:2] for n in Account.objects.filter(name__regex=r"^[一-龥]").values_list("name", flat=True)[:1]), "北京")
    industry = Account.objects.exclude(industry="").values_list("industry", flat=True).first() or ""
    home, accounts = reverse("web:home"), reverse("web:accounts")
    account = reverse("web:account", args=[busiest[0]])
    out = [
        (REFERENCE, admin, reverse("web:preferences")),
        ("My work (CSM)", csm, home),
        ("Home: the dashboard (admin)", admin, home),
        ("Dashboard, one industry (computed live)", admin, f"{reverse('web:dashboard')}?{urlencode({'industry': industry})}"),
        ("My work (admin)", admin, reverse("web:my_work")),
        ("Accounts, first page", admin, accounts),
        (f"Accounts, search {chinese}", admin, f"{accounts}?q={chinese}"),
        ("Accounts, search by initials", admin, f"{accounts}?q=bj"),
        ("Accounts, search by contact email", admin, f"{accounts}?q=@163"),
        ("Accounts, red band (htmx)", admin, f"{accounts}?band=red"),
        ("Accounts, sorted by ARR desc", admin, f"{accounts}?sort=-arr"),
        ("Accounts, renewal in 90 days", admin, f"{accounts}?renewal=90&sort=renewal"),
        ("Accounts, page 100", admin, f"{accounts}?page=100"),
        ("Accounts (CSM, own book)", csm, accounts),
        (f"Account 360 ({busiest[2]} interactions)", admin, account),
        ("Account timeline, next page", admin, None),
        ("Contact page", admin, reverse("web:contact", args=[contact]) if contact else None),
        ("Channels", admin, reverse("web:channels")),
        ("Pipeline board, new business", admin, reverse("web:pipeline")),
        ("Pipeline board, renewals", admin, f"{reverse('web:pipeline')}?pipeline=renewal"),
        ("Sales forecast, this quarter", admin, reverse("web:pipeline_forecast")),
        ("Sales forecast, deals behind the weighted pipeline", admin, f"{reverse('web:pipeline_forecast_deals')}?measure=weighted"),
    ]
    from clm.automation.models import EmailTemplate

    template = EmailTemplate.objects.order_by("pk").values_list("pk", flat=True).first()
    if template:
        out.append(("Email template, previewed in both languages", admin, reverse("web:channel_template", args=[template])))
    return out, busiest[0]


def measure(client, url, repeat, htmx=False):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    response = client.get(url, **headers)  # warm-up
    assert response.status_code == 200, (url, response.status_code)
    with CaptureQueriesContext(connection) as queries:
        client.get(url, **headers)
    count = len(queries.captured_queries)  # read now: the property reads the live log
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        client.get(url, **headers)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), max(times), count, response


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--use-current", action="store_true", help="measure the database the environment names")
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--save", metavar="FILE", help="write this run's figures to FILE (JSON)")
    parser.add_argument("--baseline", metavar="FILE", help="print a saved run's figures beside this run's")
    args = parser.parse_args()

    if args.use_current:
        label = use_current_database()
    else:
        label = setup_django("pages")
        from django.core.management import call_command

        started = time.perf_counter()
        call_command("simulate", accounts=args.accounts, months=args.months, verbosity=0)
        print(f"simulated {args.accounts} accounts × {args.months} months in {time.perf_counter() - started:.0f} s")
        from django.utils import timezone

        from clm.reports import snapshots

        started = time.perf_counter()  # what the daily run stores each morning for company-wide pages
        snapshots.take(timezone.localdate())
        print(f"KPI snapshots taken as the daily run takes them in {time.perf_counter() - started:.0f} s")
        from clm.automation.channels import library

        library.save_template(None, {  # the throwaway company has none: one to preview
            "key": "renewal", "name": "续约提醒",
            "variants": [
                {"language": "zh-hans", "subject": "{{ account.name }} 的合同即将到期", "html": "<p>{{ contact.name }}，您好</p>"},
                {"language": "en", "subject": "Your contract renews soon", "html": "<p>Dear {{ contact.name }}</p>"},
            ],
        })

    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections, reset_queries
    from django.test import Client

    # As under a server with persistent connections (and as Django's own test client does):
    # keep the connection and its query log across requests, so the log can be read.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    request_started.disconnect(reset_queries)

    from clm.core.models import Role, User
    from clm.customers.models import Account
    from clm.customers.services import fill_search_keys

    filled = fill_search_keys()
    admin = User.objects.get(username="admin")
    csm = User.objects.filter(groups__name=Role.CSM).order_by("pk").first()
    print(f"database: {label}; {Account.objects.count()} accounts; search keys filled now: {filled}")

    client_for = {}
    for user in (admin, csm):
        client_for[user.pk] = Client(HTTP_ACCEPT_LANGUAGE="zh-CN")
        client_for[user.pk].force_login(user)

    rows, worst = [], 0.0
    todo, account_id = pages(admin, csm)
    next_cursor = None
    for name, user, url in todo:
        if url is None and name.startswith("Account timeline") and next_cursor:
            from django.urls import reverse

            url = f"{reverse('web:account_timeline', args=[account_id])}?cursor={next_cursor}"
        if url is None:
            continue
        median, slowest, queries, response = measure(client_for[user.pk], url, args.repeat, htmx="htmx" in name)
        if name.startswith("Account 360"):
            from clm.web.timeline import timeline
            from clm.web.views import TIMELINE_PAGE

            next_cursor = timeline(account_id, limit=TIMELINE_PAGE).next_cursor  # the page's own scroll cursor
        worst = max(worst, median)
        rows.append((name, median, slowest, queries))

    report(rows, worst, args)


def report(rows, worst, args):
    """The table: each page's median, slowest run, queries and ratio to the reference page; with a
    baseline, its median and queries then, and this run's median ÷ that one."""
    reference = next(median for name, median, _, _ in rows if name == REFERENCE)
    before = {}
    if args.baseline:
        with open(args.baseline, encoding="utf-8") as fh:
            before = json.load(fh)["pages"]
    width = max(len(r[0]) for r in rows)
    then_ref = before.get(REFERENCE, {}).get("median_ms")
    head = f"\n{'page'.ljust(width)}  median ms   max ms  queries  × ref"
    if before:
        head += "  before ms  queries  × ref then  after ÷ before"
    print(head)
    for name, median, slowest, queries in rows:
        line = f"{name.ljust(width)}  {median:9.1f} {slowest:8.1f}  {queries:7d}  {median / reference:5.1f}"
        then = before.get(name)
        if then and then_ref:
            # the ratio of the ratios to each run's reference: the machine's drift between runs cancels
            change = (median / reference) / (then["median_ms"] / then_ref)
            line += f"  {then['median_ms']:9.1f}  {then['queries']:7d}  {then['median_ms'] / then_ref:10.1f}  {change:14.2f}"
        elif before:
            line += f"  {'–':>9}  {'–':>7}  {'–':>10}  {'–':>14}"
        print(line + ("" if median <= TARGET_MS else "  OVER TARGET"))
    print(f"\nreference: {REFERENCE} {reference:.1f} ms")
    print(f"slowest page median {worst:.1f} ms (target ≤ {TARGET_MS} ms): {'met' if worst <= TARGET_MS else 'NOT met'}")
    if then_ref:
        print(f"reference then {then_ref:.1f} ms (this run ÷ then: {reference / then_ref:.2f}, the machine's drift, "
              "which 'after ÷ before' takes out: it compares each page's ratio to its run's reference)")
    if args.save:
        pages = {name: {"median_ms": round(median, 2), "max_ms": round(slowest, 2), "queries": queries}
                 for name, median, slowest, queries in rows}
        with open(args.save, "w", encoding="utf-8") as fh:
            json.dump({"pages": pages}, fh, ensure_ascii=False, indent=1)
        print(f"figures saved to {args.save}")


if __name__ == "__main__":
    main()
