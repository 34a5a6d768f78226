"""The customer-facing value board (效果数据看板): signed links a CSM creates and revokes (only the
SHA-256 of the token is stored, with its expiry), and what the board shows — the plan's
objectives, their progress and the usage trends behind them, and nothing internal (no health,
churn risk, notes, cases or tasks)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from clm.core import services
from clm.success import plans, rules
from clm.success.models import Objective, SuccessPlan, ValueBoardLink
from clm.usage.models import Feature

DEFAULT_DAYS = 90
MAX_DAYS = 366
TREND_WEEKS = 26


def trend_label(metric: str, feature: str) -> str:
    """The objective's metric in words, the feature by its name."""
    if metric == "feature":
        name = Feature.objects.filter(key=feature).values_list("name", flat=True).first() or feature
        return _("Uses of %(feature)s in 30 days") % {"feature": name}
    return str(Objective.Metric(metric).label)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def create_link(actor, plan: SuccessPlan, *, language: str = ValueBoardLink.Language.ZH, days: int = DEFAULT_DAYS,
                via: str = "system") -> tuple[ValueBoardLink, str]:
    """A new link to the plan's board: returns it with the token, shown this once."""
    locked = plans._require_plan(actor, plan)
    errors = {}
    if language not in ValueBoardLink.Language.values:
        errors["language"] = _("Choose the customer's language: 简体中文 or English.")
    if not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        errors["days"] = _("A link lasts from 1 to %(max)s days.") % {"max": MAX_DAYS}
    if locked.closed_on is not None:
        errors["plan"] = _("This plan is closed.")
    if errors:
        raise ValidationError(errors)
    token = secrets.token_urlsafe(32)
    link = ValueBoardLink(plan=locked, token_hash=token_hash(token), language=language,
                          expires_at=timezone.now() + dt.timedelta(days=days), created_by=plans._person(actor))
    services.save_new(link, actor=plans._person(actor), via=via)
    return link, token


@transaction.atomic
def revoke_link(actor, link: ValueBoardLink, *, via: str = "system") -> ValueBoardLink:
    plans._require_plan(actor, link.plan)
    if link.revoked_at is not None:
        raise ValidationError({"link": _("This link was already revoked.")})
    services.update(link, {"revoked_at": timezone.now()}, actor=plans._person(actor), via=via)
    return link


class LinkRefused(Exception):
    """A board link that does not open: ``reason`` is unknown, revoked or expired."""

    def __init__(self, reason: str, link: ValueBoardLink | None = None):
        super().__init__(reason)
        self.reason, self.link = reason, link


def open_link(token: str) -> ValueBoardLink:
    """The live link of this token, its view counted; LinkRefused otherwise."""
    if not token or len(token) > 100:
        raise LinkRefused("unknown")
    link = ValueBoardLink.objects.select_related("plan__account").filter(token_hash=token_hash(token)).first()
    if link is None:
        raise LinkRefused("unknown")
    if link.revoked_at is not None or link.plan.closed_on is not None:
        raise LinkRefused("revoked", link)
    if link.expires_at <= timezone.now():
        raise LinkRefused("expired", link)
    ValueBoardLink.objects.filter(pk=link.pk).update(views=F("views") + 1, last_viewed_at=timezone.now())
    return link


@dataclass
class BoardObjective:
    goal: str
    unit: str
    baseline: float
    target: float
    current: float | None
    progress: float | None
    metric_label: str
    trend: dict | None  # {"weeks": [...], "values": [...]} for the chart and its table
    trend_id: str = ""

    @property
    def trend_rows(self) -> list[tuple[str, float]]:
        return list(zip(self.trend["weeks"], self.trend["values"], strict=True)) if self.trend else []


def board(plan: SuccessPlan, today: dt.date | None = None) -> dict:
    """What the customer sees, read in the link's language by the caller."""
    today = today or timezone.localdate()
    objectives = []
    start = max(plan.starts_on - dt.timedelta(weeks=8), today - dt.timedelta(weeks=TREND_WEEKS))
    for n, o in enumerate(plan.objectives.all(), start=1):
        trend = None
        if o.metric:
            series = plans.metric_series(plan.account_id, o.metric, o.feature, start, today)
            trend = {"weeks": [d.isoformat() for d in series["week"]], "values": [float(v) for v in series["value"]]}
        objectives.append(BoardObjective(
            goal=o.goal, unit=o.unit, baseline=o.baseline, target=o.target, current=o.current,
            progress=rules.progress(o.baseline, o.target, o.current),
            metric_label=trend_label(o.metric, o.feature) if o.metric else "", trend=trend, trend_id=f"trend-{n}",
        ))
    milestones = list(plan.milestones.select_related("owner_contact").all())
    return {
        "objectives": objectives,
        "milestones": milestones,
        "milestones_done": sum(1 for m in milestones if m.done_on),
        "today": today,
    }
