"""Sales scripts (销售话术): the talk tracks and objection answers that fit a deal — its stage, its
account's industry, the products in play and the roles of the people in its decision chain — ranked
by how often the deals that used them were won (Laplace-smoothed, so a track used once and won does
not outrank one won 8 times in 10), with why each one fits."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils.translation import gettext as _

from clm.commerce.models import Subscription
from clm.core import records, services
from clm.core.access import visible_records
from clm.customers.models import Contact
from clm.sales.models import Opportunity, QuoteLine, TalkTrack, TalkTrackUse


@dataclass
class Suggestion:
    track: TalkTrack
    won: int  # deals that used it and were won
    closed: int  # deals that used it and closed, won or lost
    reasons: list[str] = field(default_factory=list)
    used: bool = False  # already marked on this deal

    @property
    def score(self) -> float:
        """(won + 1) / (closed + 2): the win rate with one win and one loss assumed up front."""
        return (self.won + 1) / (self.closed + 2)


def _require_visible(user, opportunity: Opportunity) -> None:
    if not visible_records(Opportunity, user).filter(pk=opportunity.pk).exists():
        raise PermissionDenied(_("You may not work on this deal."))


def suggestions(user, opportunity: Opportunity, limit: int = 5) -> list[Suggestion]:
    """The active tracks that fit the deal, best first."""
    _require_visible(user, opportunity)
    account = opportunity.account
    roles = set(Contact.objects.filter(account=account, status=Contact.Status.ACTIVE).values_list("role", flat=True))
    products = set(
        Subscription.objects.live().filter(account=account).exclude(product=None).values_list("product_id", flat=True)
    ) | set(QuoteLine.objects.filter(quote__opportunity=opportunity).values_list("product_id", flat=True))
    tracks = TalkTrack.objects.filter(active=True).prefetch_related("products")
    stats = {
        row["track"]: row
        for row in TalkTrackUse.objects.filter(opportunity__stage__in=Opportunity.CLOSED)
        .values("track")
        .annotate(closed=Count("pk"), won=Count("pk", filter=Q(opportunity__stage=Opportunity.Stage.WON)))
    }
    used = set(TalkTrackUse.objects.filter(opportunity=opportunity).values_list("track_id", flat=True))
    out = []
    for track in tracks:
        reasons = []
        if track.stages:
            if opportunity.stage not in track.stages:
                continue
            reasons.append(_("for the stage %(stage)s") % {"stage": opportunity.stage_label})
        if track.industries:
            if account.industry not in track.industries:
                continue
            reasons.append(_("for %(industry)s") % {"industry": account.industry})
        if track.personas:
            met = roles & set(track.personas)
            if not met:
                continue
            labels = dict(Contact.Role.choices)
            reasons.append(_("for the %(roles)s on this account") % {"roles": "、".join(str(labels[r]) for r in sorted(met))})
        track_products = {p.pk: p.name for p in track.products.all()}
        if track_products:
            met = products & set(track_products)
            if not met:
                continue
            reasons.append(_("about %(products)s") % {"products": "、".join(track_products[p] for p in sorted(met))})
        row = stats.get(track.pk, {"won": 0, "closed": 0})
        out.append(Suggestion(track, row["won"], row["closed"], reasons, track.pk in used))
    out.sort(key=lambda s: (-s.score, -len(s.reasons), s.track.title))
    return out[:limit]


def mark_used(user, opportunity: Opportunity, track: TalkTrack, *, via: str = "ui") -> TalkTrackUse:
    """Record that the rep used the track on the deal (once per deal)."""
    if not records.may(user, "change", Opportunity):
        raise PermissionDenied(_("You may not change deals."))
    _require_visible(user, opportunity)
    existing = TalkTrackUse.objects.filter(track=track, opportunity=opportunity).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return services.save_new(TalkTrackUse(track=track, opportunity=opportunity, used_by=user), actor=user, via=via)
    except IntegrityError:  # marked at the same moment by someone else
        return TalkTrackUse.objects.get(track=track, opportunity=opportunity)
