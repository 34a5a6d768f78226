"""Server time and query count of each workspace page on the 10,000-account demo company.
Target: no page over 300 ms (median), and the account page's queries independent of its history.

Times are measured in-process through Django's test client (routing, middleware, views, queries,
templates: everything but the network), after one warm-up request per page.

    python bench/bench_pages.py                        # builds the demo in a throwaway SQLite db (~70 s)
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/x python bench/bench_pages.py
    CLM_DATA_DIR=/tmp/demo python bench/bench_pages.py --use-current   # an already simulated database
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import setup_django, use_current_database  # noqa: E402

TARGET_MS = 300


def pages(admin, csm):
    """(label, user, url) of each page to measure, chosen from the data."""
    from django.db.models import Count
    from django.urls import reverse

    from clm.customers.models import Account, Contact

    busiest = Account.objects.annotate(n=Count("interactions")).order_by("-n").values_list("pk", "name", "n").first()
    contact = Contact.objects.filter(account_id=busiest[0]).values_list("pk", flat=True).first()
    chinese = next((n[:2] for n in Account.objects.filter(name__regex=r"^[一-龥]").values_list("name", flat=True)[:1]), "北京")
    home, accounts = reverse("web:home"), reverse("web:accounts")
    account = reverse("web:account", args=[busiest[0]])
    out = [
        ("My work (CSM)", csm, home),
        ("My work (admin)", admin, home),
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
    args = parser.parse_args()

    if args.use_current:
        label = use_current_database()
    else:
        label = setup_django("pages")
        from django.core.management import call_command

        started = time.perf_counter()
        call_command("simulate", accounts=args.accounts, months=args.months, verbosity=0)
        print(f"simulated {args.accounts} accounts × {args.months} months in {time.perf_counter() - started:.0f} s")
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

    width = max(len(r[0]) for r in rows)
    print(f"\n{'page'.ljust(width)}  median ms   max ms  queries")
    for name, median, slowest, queries in rows:
        flag = "" if median <= TARGET_MS else "  OVER TARGET"
        print(f"{name.ljust(width)}  {median:9.1f} {slowest:8.1f}  {queries:7d}{flag}")
    print(f"\nslowest page median {worst:.1f} ms (target ≤ {TARGET_MS} ms): {'met' if worst <= TARGET_MS else 'NOT met'}")


if __name__ == "__main__":
    main()
