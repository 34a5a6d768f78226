"""One money format (clm.core.money): the same amount reads the same on My work (the ranking's
explanation), on the account page and in the daily digest, in Chinese and in English, in the
currency of the workspace settings, read once per request."""

import datetime as dt
import re
import zoneinfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clm.automation import digest, work
from clm.core.models import Workspace, workspace_scope
from clm.core.money import money
from tests.receivers import SmtpServer

pytestmark = pytest.mark.django_db
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
DIGEST_AT = dt.datetime(2030, 3, 4, 8, 0, tzinfo=SHANGHAI)  # past the digest hour there


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        (24000, "CNY", "¥24,000"),
        ("1234567.5", "USD", "$1,234,568"),  # whole units, half to even as Decimal rounds
        (-1200.4, "EUR", "-€1,200"),
        (-0.3, "GBP", "£0"),
        (1500, "SGD", "SGD 1,500"),  # a code without a sign is written out
        (None, "CNY", "–"),
    ],
)
def test_an_amount_reads_in_whole_units_of_the_currency(value, currency, expected):
    assert money(value, currency) == expected


@pytest.mark.parametrize(
    ("value", "language", "expected"),
    [
        (125_000, "zh-hans", "¥12.5万"),  # UI.md: large amounts may read 12.5万 / 3.2亿
        (320_000_000, "zh-hans", "¥3.2亿"),
        (-45_000, "zh-hans", "-¥4.5万"),
        (9_999, "zh-hans", "¥9,999"),  # below 1万: as written
        (125_000, "en", "¥125,000"),  # English keeps thousands separators
    ],
)
def test_compact_amounts_read_in_wan_and_yi_on_chinese_pages(value, language, expected):
    from django.utils import translation

    with translation.override(language):
        assert money(value, "CNY", compact=True) == expected


def test_the_currency_is_read_once_in_a_workspace_scope_and_each_time_outside_one():
    Workspace.objects.create(currency="USD")
    with CaptureQueriesContext(connection) as outside:
        assert [money(v) for v in (1, 2, 3)] == ["$1", "$2", "$3"]
    with CaptureQueriesContext(connection) as inside, workspace_scope(), workspace_scope():
        assert [money(v) for v in (1, 2, 3)] == ["$1", "$2", "$3"]
        workspace = Workspace.current()
        workspace.currency = "EUR"
        workspace.save()  # seen by the rest of the scope
        assert money(4) == "€4"
    assert (len(outside), len([q for q in inside.captured_queries if "SELECT" in q["sql"]])) == (3, 2)


def bare(amount_text: str, html: str) -> list[str]:
    """Where the number appears without a currency sign before it."""
    return re.findall(rf"(?<![¥$€£\d,.]){re.escape(amount_text)}", html)


@pytest.mark.parametrize(("language", "ranked"), [("zh-hans", "ARR {} · 尚无流失风险估计"), ("en", "ARR {} · no churn risk estimate yet")])
@pytest.mark.parametrize(("currency", "amount"), [("CNY", "¥24,000"), ("USD", "$24,000")])
def test_the_same_arr_reads_the_same_on_my_work_the_account_page_and_the_digest(
    client, owner, huawei, language, ranked, currency, amount
):
    Workspace.objects.create(currency=currency)
    owner.language, owner.email, owner.time_zone = language, "owner@example.com", "Asia/Shanghai"
    owner.save()
    client.force_login(owner)
    work.create_task(owner, title="回访华为", account=huawei, due_at=DIGEST_AT - dt.timedelta(hours=1))

    my_work = client.get(reverse("web:home")).content.decode()
    with CaptureQueriesContext(connection) as queries:
        account_page = client.get(reverse("web:account", args=[huawei.pk])).content.decode()
    with SmtpServer() as smtp, pytest.MonkeyPatch.context() as patch:
        from django.conf import settings

        patch.setattr(settings, "EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
        patch.setattr(settings, "EMAIL_HOST", "127.0.0.1")
        patch.setattr(settings, "EMAIL_PORT", smtp.port)
        assert digest.send_daily_digests(DIGEST_AT) == 1
    [message] = smtp.messages
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()

    assert ranked.format(amount) in my_work  # huawei: ARR 24,000, no churn model or band history
    assert amount in account_page
    assert amount in text and amount in html
    for page in (my_work, account_page, text, html):
        assert not bare("24,000", page)
    # the account page shows a dozen amounts and checks visibility: the workspace is read once
    assert len([q for q in queries.captured_queries if "core_workspace" in q["sql"]]) == 1
