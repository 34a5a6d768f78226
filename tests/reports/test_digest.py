"""The weekly KPI digest, sent to a real SMTP server on 127.0.0.1 (aiosmtpd): managers only, in each
one's language, once an ISO week from Monday 07:00 in their time zone, and not to those who opted
out in Preferences; it reads the dashboard's rows."""

import datetime as dt
import zoneinfo

import pytest
from django.urls import reverse

from clm.reports import snapshots
from clm.reports.digest import send_weekly_digests, wants_weekly
from clm.reports.models import KpiTarget
from tests.factories import make_user

from .conftest import TODAY
from .test_notify import body

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
MONDAY_8 = dt.datetime(2026, 12, 7, 8, 0, tzinfo=SHANGHAI)  # TODAY is a Monday


@pytest.fixture
def people(world):
    return {
        "wang": make_user("wang", "Manager", email="wang@example.com", language="zh-hans", first_name="伟", last_name="王"),
        "ann": make_user("ann", "Manager", email="ann@example.com", language="en", time_zone="Europe/London"),
        "rep": make_user("rep", "Sales", email="rep@example.com"),
    }


def test_each_manager_gets_the_kpi_table_in_their_language(smtp, people):
    KpiTarget.objects.create(kpi="nrr", period="2026-11", value=1.0)
    snapshots.take(TODAY)
    # 08:00 in Shanghai is 00:00 in London: only Wang's Monday morning has come
    assert send_weekly_digests(MONDAY_8) == 1
    chinese = smtp.messages[0]
    assert chinese["To"] == "wang@example.com" and "2026-11" in chinese["Subject"]
    text = body(chinese)
    assert "王伟" in text or "伟 王" in text or "wang" in text
    assert "94.1%" in text and "目标" in text  # NRR against its target, named in Chinese
    assert "https://clm.example.com/dashboard/?period=2026-11" in text
    assert send_weekly_digests(MONDAY_8 + dt.timedelta(hours=9)) == 1  # 09:00 in London: Ann's
    english = smtp.messages[1]
    assert english["To"] == "ann@example.com" and "Net revenue retention (NRR): 94.1% · target 100.0%" in body(english)
    assert "Renewals due in 30 days" in body(english)


def test_once_a_week_and_not_to_those_who_opted_out(smtp, people, client):
    client.force_login(people["ann"])
    page = client.get(reverse("web:preferences"))
    assert "weekly_kpis" in page.content.decode()
    form = {"first_name": "", "last_name": "", "email": "ann@example.com", "language": "en", "time_zone": "",
            "daily_digest": "on"}  # weekly_kpis unticked
    assert client.post(reverse("web:preferences"), form).status_code in (200, 302)
    assert not wants_weekly(people["ann"])
    client.force_login(people["rep"])
    assert "weekly_kpis" not in client.get(reverse("web:preferences")).content.decode()  # managers only
    later = MONDAY_8 + dt.timedelta(days=1, hours=9)
    assert send_weekly_digests(later) == 1 and smtp.messages[0]["To"] == "wang@example.com"
    assert send_weekly_digests(later + dt.timedelta(days=2)) == 0  # the same ISO week
    assert send_weekly_digests(later + dt.timedelta(days=6)) == 1  # next Monday
