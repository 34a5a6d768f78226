"""Sales scripts (销售话术): the talk tracks and objection answers that fit a deal — its stage, its
account's industry, the products in play and the roles of the people in its decision chain — or a
lead — its stage (mal, mql, sql), its industry, and its contact's role once it has a contact (a
job title is not mapped to a role: no such mapping exists, and guessing one would mislead). One
ranking for both: how often the deals and leads that used a track were won (a lead is won when it
becomes a customer, lost when disqualified), Laplace-smoothed, so a track used once and won does not
outrank one won 8 times in 10, with why each one fits."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils.translation import gettext as _

from clm.commerce.models import Subscription
from clm.core import records, services
from clm.core.access import visible_records
from clm.customers.models import Contact
from clm.sales import scoring
from clm.sales.models import Lead, Opportunity, QuoteLine, TalkTrack, TalkTrackUse


@dataclass
class Suggestion:
    track: TalkTrack
    won: int  # deals and leads that used it and were won
    closed: int  # deals and leads that used it and closed, won or lost
    reasons: list[str] = field(default_factory=list)
    used: bool = False  # already marked on this deal or lead

    @property
    def score(self) -> float:
        """(won + 1) / (closed + 2): the win rate with one win and one loss assumed up front."""
        return (self.won + 1) / (self.closed + 2)


@dataclass
class _Fit:
    """What a deal or a lead offers a track to match; None: not known, so not a condition."""

    stage: str
    stage_label: str
    industry: str
    roles: set[str] | None
    roles_reason: str  # "for the %(roles)s …", translated by the caller
    products: set[int] | None


LEAD_CLOSED = (Lead.Status.CONVERTED, Lead.Status.DISQUALIFIED)  # won, lost


def _require_visible(user, record) -> None:
    if not visible_records(type(record), user).filter(pk=record.pk).exists():
        if isinstance(record, Lead):
            raise PermissionDenied(_("You may not work on this lead."))
        raise PermissionDenied(_("You may not work on this deal."))


def _outcomes() -> dict[int, dict]:
    """{track id: {"won", "closed"}} over the closed deals and leads that used each track."""
    out: dict[int, dict] = {}
    deals = (
        TalkTrackUse.objects.filter(opportunity__stage__in=Opportunity.CLOSED).values("track")
        .annotate(closed=Count("pk"), won=Count("pk", filter=Q(opportunity__stage=Opportunity.Stage.WON)))
    )  # fmt: skip
    leads = (
        TalkTrackUse.objects.filter(lead__status__in=LEAD_CLOSED).values("track")
        .annotate(closed=Count("pk"), won=Count("pk", filter=Q(lead__status=Lead.Status.CONVERTED)))
    )  # fmt: skip
    for row in [*deals, *leads]:
        total = out.setdefault(row["track"], {"won": 0, "closed": 0})
        total["won"] += row["won"]
        total["closed"] += row["closed"]
    return out


def _rank(fit: _Fit, used: set[int], limit: int) -> list[Suggestion]:
    stats = _outcomes()
    out = []
    for track in TalkTrack.objects.filter(active=True).prefetch_related("products"):
        reasons = []
        if track.stages:
            if fit.stage not in track.stages:
                continue
            reasons.append(_("for the stage %(stage)s") % {"stage": fit.stage_label})
        if track.industries:
            if fit.industry not in track.industries:
                continue
            reasons.append(_("for %(industry)s") % {"industry": fit.industry})
        if track.personas and fit.roles is not None:
            met = fit.roles & set(track.personas)
            if not met:
                continue
            labels = dict(Contact.Role.choices)
            reasons.append(fit.roles_reason % {"roles": "、".join(str(labels[r]) for r in sorted(met))})
        track_products = {p.pk: p.name for p in track.products.all()}
        if track_products and fit.products is not None:
            met = fit.products & set(track_products)
            if not met:
                continue
            reasons.append(
                _("about %(products)s") % {"products": "、".join(track_products[p] for p in sorted(met))}
            )
        row = stats.get(track.pk, {"won": 0, "closed": 0})
        out.append(Suggestion(track, row["won"], row["closed"], reasons, track.pk in used))
    out.sort(key=lambda s: (-s.score, -len(s.reasons), s.track.title))
    return out[:limit]


def suggestions(user, opportunity: Opportunity, limit: int = 5) -> list[Suggestion]:
    """The active tracks that fit the deal, best first."""
    _require_visible(user, opportunity)
    account = opportunity.account
    roles = set(
        Contact.objects.filter(account=account, status=Contact.Status.ACTIVE).values_list("role", flat=True)
    )
    products = set(
        Subscription.objects.live()
        .filter(account=account)
        .exclude(product=None)
        .values_list("product_id", flat=True)
    ) | set(QuoteLine.objects.filter(quote__opportunity=opportunity).values_list("product_id", flat=True))
    fit = _Fit(opportunity.stage, str(opportunity.stage_label), account.industry, roles,
               _("for the %(roles)s on this account"), products)  # fmt: skip
    used = set(TalkTrackUse.objects.filter(opportunity=opportunity).values_list("track_id", flat=True))
    return _rank(fit, used, limit)


def lead_suggestions(user, lead: Lead, limit: int = 5) -> list[Suggestion]:
    """The active tracks that fit the lead, best first: by its stage and industry, and by its
    contact's role when it has a contact; tracks about products are not held back (a lead has
    none in play yet)."""
    _require_visible(user, lead)
    role = lead.contact.role if lead.contact_id and lead.contact.role else None
    fit = _Fit(lead.status, str(lead.get_status_display()), lead.industry, {role} if role else None,
               _("for the %(roles)s you are talking to"), None)  # fmt: skip
    used = set(TalkTrackUse.objects.filter(lead=lead).values_list("track_id", flat=True))
    return _rank(fit, used, limit)


def mark_used(user, record: Opportunity | Lead, track: TalkTrack, *, via: str = "ui") -> TalkTrackUse:
    """Record that the rep used the track on the deal or the open lead (once each)."""
    on_lead = isinstance(record, Lead)
    if not records.may(user, "change", type(record)):
        raise PermissionDenied(_("You may not change leads.") if on_lead else _("You may not change deals."))
    _require_visible(user, record)
    if on_lead and record.status not in scoring.OPEN:
        raise ValidationError({"lead": _("This lead is no longer open (%(stage)s): mark talk tracks on its deal.")
                               % {"stage": record.get_status_display()}})  # fmt: skip
    where = {"lead": record} if on_lead else {"opportunity": record}
    existing = TalkTrackUse.objects.filter(track=track, **where).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return services.save_new(TalkTrackUse(track=track, used_by=user, **where), actor=user, via=via)
    except IntegrityError:  # marked at the same moment by someone else
        return TalkTrackUse.objects.get(track=track, **where)
