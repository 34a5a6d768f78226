"""The daily digest, sent to a real SMTP server on 127.0.0.1 (aiosmtpd): who gets one, in which
language, what it lists, and that nobody gets two in a day."""

import datetime as dt
import email
import email.policy
import socket
import zoneinfo

import pytest
from aiosmtpd.controller import Controller

from clm.automation import digest, work
from clm.automation.models import DigestSubscription
from clm.customers.models import Account
from tests.conftest import make_user

pytestmark = pytest.mark.django_db
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
# 08:00 in Shanghai on 2030-03-04: past the digest hour there.
NOW = dt.datetime(2030, 3, 4, 8, 0, tzinfo=SHANGHAI)


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, email.message_from_bytes(envelope.content, policy=email.policy.default)))
        return "250 OK"


@pytest.fixture
def smtp(settings):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield inbox
    controller.stop()


def text_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


@pytest.fixture
def people(db):
    zh = make_user("li", "CSM", email="li@example.com", first_name="雷", last_name="李", language="zh-hans")
    en = make_user("ann", "Sales", email="ann@example.com", first_name="Ann", language="en")
    quiet = make_user("quiet", "Sales", email="quiet@example.com")
    nomail = make_user("nomail", "Sales")
    return zh, en, quiet, nomail


def task(user, title, due, **extra):
    return work.create_task(None, title=title, assignee=user, due_at=due, **extra)


def test_each_user_gets_their_due_and_overdue_tasks_in_their_language(smtp, people):
    zh, en, quiet, nomail = people
    account = Account.objects.create(name="华为技术")
    task(zh, "回访王芳", NOW - dt.timedelta(days=1), account=account)
    task(zh, "准备 QBR", NOW + dt.timedelta(hours=3))
    task(zh, "下周的事", NOW + dt.timedelta(days=3))
    task(en, "Renewal call", NOW + dt.timedelta(hours=1))
    task(nomail, "No address", NOW)
    snoozed = task(quiet, "Snoozed", NOW - dt.timedelta(hours=1))
    snoozed.snoozed_until = NOW + dt.timedelta(days=1)
    snoozed.save()
    assert digest.send_daily_digests(NOW) == 2
    by_to = {tuple(to): message for to, message in smtp.messages}
    assert set(by_to) == {("li@example.com",), ("ann@example.com",)}
    chinese = by_to[("li@example.com",)]
    body = text_of(chinese)
    assert "回访王芳 · 华为技术" in body and "准备 QBR" in body and "下周的事" not in body
    assert body.index("回访王芳") < body.index("准备 QBR")  # overdue first
    assert chinese["Subject"] == "CLM：今天到期 1 项，逾期 1 项"
    assert "/preferences/" in body
    english = by_to[("ann@example.com",)]
    assert english["Subject"] == "CLM: 1 due today, 0 overdue"
    assert "Renewal call" in text_of(english)
    assert english.get_body(preferencelist=("html",)) is not None


def test_nobody_gets_two_digests_in_a_day_and_opted_out_users_none(smtp, people):
    zh, en, *_ = people
    task(zh, "回访", NOW)
    task(en, "Call", NOW)
    work.set_digest(en, False)
    assert digest.send_daily_digests(NOW) == 1
    assert digest.send_daily_digests(NOW + dt.timedelta(hours=1)) == 0
    assert [to for to, _ in smtp.messages] == [["li@example.com"]]
    assert DigestSubscription.objects.get(user=zh).last_sent_on == dt.date(2030, 3, 4)
    assert digest.send_daily_digests(NOW + dt.timedelta(days=1)) == 1  # the next morning, again


def test_no_digest_before_seven_in_the_users_own_time_zone(smtp, people):
    zh, en, *_ = people
    en.time_zone = "Europe/London"  # 08:00 in Shanghai is 00:00 in London
    en.save()
    task(en, "Call", NOW + dt.timedelta(hours=2))
    assert digest.send_daily_digests(NOW) == 0
    assert digest.send_daily_digests(NOW + dt.timedelta(hours=7)) == 1
    assert smtp.messages[0][0] == ["ann@example.com"]


def test_the_periodic_task_sends_what_is_due_now(smtp, people):
    from clm.automation.tasks import daily_digest_hourly

    zh, *_ = people
    now = dt.datetime.now(dt.UTC)
    zh.time_zone = "UTC" if now.hour >= digest.DIGEST_HOUR else "Etc/GMT-12"  # a zone past 07:00 now
    zh.save()
    task(zh, "回访", now - dt.timedelta(days=1))
    daily_digest_hourly.call_local()
    assert [to for to, _ in smtp.messages] == [["li@example.com"]]
