"""The weekly KPI digest: each Monday after DIGEST_HOUR in their time zone, every manager (who did
not opt out in Preferences) gets the KPI table of the last complete month and the changes worth a
look — KPIs missing their targets, the largest moves the wrong way, the red accounts this week
against last, the renewals due in 30 days — in their language, at most once an ISO week. It reads
the same rows as the dashboard (the daily run's snapshots), and reuses the daily digest's
time-zone and link helpers."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from clm.automation.digest import DIGEST_HOUR, site_url, zone_of
from clm.core.models import Role, User, workspace_scope

from . import figures
from .catalogue import STAGES
from .formats import change, figure, read_against_target
from .kpis.base import Scope
from .models import KpiDigestSubscription
from .periods import Period
from .services import MISSED, STATUS_LABELS, default_period, kpi_table

WORST_MOVES = 5


def week_of(day: dt.date) -> str:
    year, week, _weekday = day.isocalendar()
    return f"{year}-W{week:02d}"


def wants_weekly(user) -> bool:
    subscription = KpiDigestSubscription.objects.filter(user=user).first()
    return subscription is None or subscription.enabled


def set_weekly(user, enabled: bool) -> None:
    KpiDigestSubscription.objects.update_or_create(user=user, defaults={"enabled": enabled})


def digest_context(today: dt.date) -> dict:
    """The numbers every manager's digest shows (in the active language): computed once a send."""
    period = default_period("month", today)
    scope = Scope(None, today=today)
    rows = kpi_table(None, period, today=today, scope=scope)
    table = [
        {"stage": str(STAGES[r.kpi.stage]), "name": str(r.kpi.name), **read_against_target(r),
         "change": change(r.change, r.kpi.unit), "status": str(STATUS_LABELS[r.status]), "missed": r.status == MISSED}
        for r in rows
    ]  # fmt: skip
    worse = [r for r in rows if r.change and (r.change > 0) != r.kpi.up_is_good]
    worse.sort(key=lambda r: -abs(r.change / r.previous.value) if r.previous.value else 0)
    trend = figures.read("health_trend", scope, Period.of("month", today))["points"]  # weeks ending today
    red_now, red_before = (trend[-1]["red"], trend[-2]["red"]) if len(trend) >= 2 else (None, None)
    renewals = figures.read("renewals", scope, period)["windows"][0]
    return {
        "period": period.label, "previous": period.previous().label, "table": table,
        "missed": [t for t in table if t["missed"]],
        "worse": [{"name": str(r.kpi.name), "change": change(r.change, r.kpi.unit),
                   "value": figure(r.result.value, r.kpi.unit)} for r in worse[:WORST_MOVES]],
        "red_now": red_now, "red_before": red_before, "renewals": renewals,
        "dashboard": site_url(f"{reverse('web:dashboard')}?period={period.label}"),
        "preferences": site_url(reverse("web:preferences")),
    }


def message(user: User, today: dt.date, contexts: dict) -> EmailMultiAlternatives:
    language = user.language or settings.LANGUAGE_CODE
    with translation.override(language):
        if language not in contexts:
            contexts[language] = digest_context(today)
        context = {**contexts[language], "user": user}
        subject = _("CLM weekly: the KPIs of %(period)s, %(missed)s missing their targets") % {
            "period": context["period"], "missed": len(context["missed"])}
        mail = EmailMultiAlternatives(subject, render_to_string("reports/kpi_digest.txt", context), to=[user.email])
        mail.attach_alternative(render_to_string("reports/kpi_digest.html", context), "text/html")
    return mail


def due_weekly(now: dt.datetime) -> list[tuple[User, str]]:
    """(manager, ISO week) for each manager whose weekly digest is due now: active, with an email,
    not opted out, Monday (or later in the week if missed) past DIGEST_HOUR locally, not sent this week."""
    managers = User.objects.filter(is_active=True, groups__name=Role.MANAGER).exclude(email="").distinct()
    subscriptions = {s.user_id: s for s in KpiDigestSubscription.objects.filter(user__in=managers)}
    out = []
    for user in managers.order_by("pk"):
        subscription = subscriptions.get(user.pk)
        local = now.astimezone(zone_of(user))
        week = week_of(local.date())
        if subscription and (not subscription.enabled or subscription.last_sent_week == week):
            continue
        if local.weekday() == 0 and local.hour < DIGEST_HOUR:
            continue
        out.append((user, week))
    return out


def send_weekly_digests(now: dt.datetime | None = None, *, connection=None) -> int:
    """Send the weekly KPI digests due now; returns how many went out."""
    now = now or timezone.now()
    due = due_weekly(now)
    if not due:
        return 0
    connection = connection or get_connection()
    contexts: dict[str, dict] = {}
    today = timezone.localdate(now)
    with connection, workspace_scope():
        for user, week in due:
            mail = message(user, today, contexts)
            mail.connection = connection
            mail.send()
            KpiDigestSubscription.objects.update_or_create(user=user, defaults={"last_sent_week": week})
    return len(due)
