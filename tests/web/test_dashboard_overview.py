"""The overview's parts beside the KPI tiles: the as-of line of the stored numbers, the health
bands and their trend, the red accounts by owner, the renewals due — each number linking to the
accounts behind it, and none contradicting another; a bounded number of queries."""

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from clm.commerce.models import Subscription
from clm.reports import snapshots
from tests.factories import make_user
from tests.reports.conftest import world  # noqa: F401  (the small company of the KPI tests)

NOV = {"period": "2026-11"}
MAX_QUERIES = 25  # sessions, user, filters' choices, targets, snapshots, owners: not one per KPI


@pytest.fixture
def signed_in(client, db):
    client.force_login(make_user("boss", "Manager", first_name="王", last_name="经理"))
    return client


@pytest.fixture
def renewing(world):  # noqa: F811
    today = timezone.localdate()
    for name, days, mrr in (("A", 20, 1200), ("B", 60, 400)):
        Subscription.objects.filter(account=world[name]).update(renewal_date=today + dt.timedelta(days=days), mrr=mrr)
    return world


def link(html: str, testid: str) -> str:
    anchor = re.search(rf'<a href="([^"]+)" data-testid="{testid}"', html) or re.search(
        rf'data-testid="{testid}"[^>]*>.*?<a href="([^"]+)"', html, re.S)
    return anchor.group(1).replace("&amp;", "&")


def names(client, url: str) -> list[str]:
    return sorted(a.name for a in client.get(url).context["page"].object_list)


def test_the_stored_numbers_say_as_of_when_and_the_page_stays_within_its_queries(
    renewing, signed_in, django_assert_max_num_queries
):
    snapshots.take(timezone.localdate())
    with django_assert_max_num_queries(MAX_QUERIES):
        html = signed_in.get(reverse("web:dashboard"), NOV, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert re.search(rf"As of {timezone.localdate():%Y-%m-%d}, computed \d{{4}}-\d\d-\d\d \d\d:\d\d by the daily run", html)


def test_without_a_snapshot_the_page_computes_and_says_so(world, signed_in):  # noqa: F811
    html = signed_in.get(reverse("web:dashboard"), NOV, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Computed just now for this view." in html


@pytest.mark.parametrize("stored", [True, False])
def test_health_bands_and_red_accounts_click_through_to_the_same_accounts(world, signed_in, owner, stored):  # noqa: F811
    if stored:
        snapshots.take(timezone.localdate())
    html = signed_in.get(reverse("web:dashboard"), NOV, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert names(signed_in, link(html, "band-red")) == ["D"]
    assert names(signed_in, link(html, "band-green")) == ["A", "E"]
    owners = re.search(r'data-testid="red-by-owner".*?</table>', html, re.S).group(0)
    red_link = re.search(r'<a href="([^"]+)">1</a>', owners).group(1).replace("&amp;", "&")
    assert f"owner={owner.pk}" in red_link and names(signed_in, red_link) == ["D"]
    behind = signed_in.get(link(html, "band-red"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Healthy share" in behind and "At risk" in behind  # the band named, not its code


def test_renewals_due_link_to_the_accounts_page_renewal_filter(renewing, signed_in):
    snapshots.take(timezone.localdate())
    html = signed_in.get(reverse("web:dashboard"), NOV, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    row30 = re.search(r'data-testid="renewal-30">(.*?)</tr>', html, re.S).group(1)
    row90 = re.search(r'data-testid="renewal-90">(.*?)</tr>', html, re.S).group(1)
    assert "¥14,400" in row30 and "¥19,200" in row90  # ARR: 1,200 × 12; + 400 × 12
    url = re.search(r'href="([^"]+)"', row90).group(1).replace("&amp;", "&")
    assert names(signed_in, url) == ["A", "B"]
    assert "no prediction and no retention history" in html  # the rule behind the probabilities, in words


def test_the_chinese_overview_names_bands_and_rules_in_chinese(renewing, signed_in):
    snapshots.take(timezone.localdate())
    html = signed_in.get(reverse("web:dashboard"), NOV, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    text = re.sub(r"<[^>]+>|<script.*?</script>", " ", re.sub(r"<script.*?</script>", "", html, flags=re.S))
    for code in ("churn_model", "logo_retention", "unknown", "Renewals due", "Health distribution", "By the daily run"):
        assert code not in text, code
    assert "续约" in text and "健康" in text
