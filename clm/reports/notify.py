"""A KPI that missed its target for a period now over tells its owning team's managers, once per
target: an email in each manager's language (value, target, a link to the dashboard) and a task
on their work list. Run after the daily run's snapshots, so it reads the stored figures."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from clm.automation.digest import site_url
from clm.automation.models import Task
from clm.automation.work import create_task
from clm.core.models import Role, User, workspace_scope

from .catalogue import TEAMS
from .formats import figure
from .models import KpiTarget
from .periods import Period
from .services import MISSED, Row, kpi_table
from .snapshots import periods

log = logging.getLogger(__name__)

# the role whose members make up an owning team; management's and operations' KPIs go to every manager
TEAM_ROLES = {"sales": Role.SALES, "customer_success": Role.CSM, "marketing": Role.MARKETING}


def managers_of(team: str) -> list[User]:
    """The active managers (with an email) of the teams whose members hold the KPI team's role;
    every manager when the KPI's team is not one role or no manager leads such a team."""
    managers = User.objects.filter(is_active=True, groups__name=Role.MANAGER).exclude(email="").distinct()
    role = TEAM_ROLES.get(team)
    if role:
        owning = managers.filter(team__members__groups__name=role, team__members__is_active=True).distinct()
        if owning.exists():
            return list(owning.order_by("pk"))
    return list(managers.order_by("pk"))


def dashboard_link(period: Period) -> str:
    return site_url(f"{reverse('web:dashboard')}?kind={period.kind}&period={period.label}")


def missed_targets(as_of: dt.date) -> list[tuple[KpiTarget, Row, Period]]:
    """The targets not yet told of whose period ended before ``as_of`` and which the KPI missed."""
    ended = {p.label: p for p in periods(as_of) if p.end < as_of}
    targets = list(KpiTarget.objects.filter(period__in=list(ended), notified_at__isnull=True))
    out = []
    for label in sorted({t.period for t in targets}):
        period = ended[label]
        mine = {t.kpi: t for t in targets if t.period == label}
        for row in kpi_table(None, period, keys=sorted(mine), today=as_of):
            if row.status == MISSED:
                out.append((mine[row.kpi.key], row, period))
    return out


def message_for(user: User, row: Row, period: Period) -> tuple[str, str]:
    """The subject and body of one notice, in the manager's language."""
    with translation.override(user.language or settings.LANGUAGE_CODE):
        facts = {
            "kpi": row.kpi.name, "period": period.label, "value": figure(row.result.value, row.kpi.unit),
            "target": figure(row.target, row.kpi.unit), "team": TEAMS[row.kpi.team],
        }
        subject = _("CLM: %(kpi)s missed its target in %(period)s (%(value)s, target %(target)s)") % facts
        body = "\n\n".join([
            _("Hello %(name)s,") % {"name": user.get_full_name() or user.get_username()},
            _("%(kpi)s, owned by %(team)s, was %(value)s in %(period)s; its target was %(target)s.") % facts,
            _("How it is computed: %(formula)s") % {"formula": row.kpi.formula},
            _("The dashboard, and the accounts behind the number: %(link)s") % {"link": dashboard_link(period)},
            _("You get this notice once per KPI and period, as a manager of the team that owns the KPI."),
        ])
    return subject, body


def notify_missed_targets(as_of: dt.date | None = None, *, connection=None) -> int:
    """Tell the owning teams' managers of each target missed (once per target); how many were told."""
    as_of = as_of or timezone.localdate()
    found = missed_targets(as_of)
    if not found:
        return 0
    connection = connection or get_connection()
    told = 0
    with connection, workspace_scope():
        for target, row, period in found:
            for manager in managers_of(row.kpi.team):
                subject, body = message_for(manager, row, period)
                EmailMessage(subject, body, to=[manager.email], connection=connection).send()
                with translation.override(manager.language or settings.LANGUAGE_CODE):
                    create_task(None, title=subject[:200], assignee=manager, note=body, source=Task.Source.REPORT,
                                due_at=timezone.now() + dt.timedelta(days=7))
                told += 1
            KpiTarget.objects.filter(pk=target.pk).update(notified_at=timezone.now())
    return told
