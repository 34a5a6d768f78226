"""The daily digest: one email to each user with the open tasks they have due today or overdue.

Sent in the user's language at the first run after DIGEST_HOUR in their time zone, at most once a
local day (DigestSubscription.last_sent_on), unless they opted out in Preferences. All messages go
over one SMTP connection; each user is marked as sent right after their message left, so a
failure part-way never sends anyone's digest twice."""

import datetime as dt
import zoneinfo
from collections import defaultdict

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from clm.automation.models import DigestSubscription, Task
from clm.commerce.models import Subscription
from clm.core.models import User, workspace_scope

DIGEST_HOUR = 7


def zone_of(user) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(user.time_zone or settings.TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def site_url(path: str = "") -> str:
    return getattr(settings, "CLM_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/") + path


def digest_message(user, tasks: list[Task], now: dt.datetime) -> EmailMultiAlternatives:
    """The user's digest, in their language: overdue tasks first, then those due today."""
    with translation.override(user.language or settings.LANGUAGE_CODE), timezone.override(zone_of(user)):
        overdue = [t for t in tasks if t.due_at < now]
        today = [t for t in tasks if t.due_at >= now]
        context = {
            "user": user,
            "overdue": overdue,
            "today": today,
            "home": site_url(reverse("web:home")),
            "preferences": site_url(reverse("web:preferences")),
            "site": site_url(),
        }
        subject = _("CLM: %(due)s due today, %(overdue)s overdue") % {
            "due": len(today), "overdue": len(overdue)}
        message = EmailMultiAlternatives(
            subject, render_to_string("automation/digest.txt", context), to=[user.email]
        )
        message.attach_alternative(render_to_string("automation/digest.html", context), "text/html")
    return message


def due_digests(now: dt.datetime) -> list[tuple[User, list[Task], dt.date]]:
    """(user, their open tasks due by the end of their local day, that day) for each user whose
    digest is due now: active, with an email, not opted out, past DIGEST_HOUR locally, not yet
    sent today, with something due; each task carries its account's ARR (account_arr). Three
    queries."""
    tasks = (
        Task.objects.filter(
            status=Task.Status.OPEN,
            due_at__lt=now + dt.timedelta(days=2),  # the end of any time zone's day
            assignee__is_active=True,
        )
        .exclude(assignee__email="")
        .exclude(snoozed_until__gt=now)
        .exclude(assignee__digest__enabled=False)
        .select_related("account", "assignee")
        .order_by("due_at", "id")
    )
    by_user = defaultdict(list)
    for task in tasks:
        by_user[task.assignee_id].append(task)
    arr = dict(
        Subscription.objects.filter(account_id__in={t.account_id for t in tasks if t.account_id}).arr_by_account()
    )
    for task in tasks:
        task.account_arr = arr.get(task.account_id)
    sent = dict(
        DigestSubscription.objects.filter(user_id__in=list(by_user)).values_list("user_id", "last_sent_on")
    )
    out = []
    for user_tasks in by_user.values():
        user = user_tasks[0].assignee
        local = now.astimezone(zone_of(user))
        if local.hour < DIGEST_HOUR or sent.get(user.pk) == local.date():
            continue
        end_of_day = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time.min, tzinfo=local.tzinfo)
        due = [t for t in user_tasks if t.due_at < end_of_day]
        if due:
            out.append((user, due, local.date()))
    return out


def send_daily_digests(now: dt.datetime | None = None, *, connection=None) -> int:
    """Send the digests due now; returns how many went out."""
    now = now or timezone.now()
    digests = due_digests(now)
    if not digests:
        return 0
    connection = connection or get_connection()
    sent = 0
    with connection, workspace_scope():
        for user, tasks, day in digests:
            message = digest_message(user, tasks, now)
            message.connection = connection
            message.send()
            DigestSubscription.objects.update_or_create(user=user, defaults={"last_sent_on": day})
            sent += 1
    return sent


