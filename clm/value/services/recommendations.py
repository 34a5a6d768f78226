"""Cross-sell recommendations (the up-sell ones: ``upsell``): the day's offers reconciled with the stored ones, and what sales
do with one (accept, dismiss, reopen)."""

from __future__ import annotations

import pandas as pd
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from clm.core import bulk
from clm.core import services as core_services
from clm.value.models import Recommendation

from .loading import Known


def sync(offers: pd.DataFrame, known: Known) -> dict:
    """Bring the stored recommendations in line with today's offers: new offers open, open ones
    are refreshed, offers the account has since bought become converted, other open ones that are
    no longer suggested are withdrawn. Dismissed ones are never reopened; accepted ones stay
    accepted (sales are working on them) until the account buys."""
    existing, stored = {}, {}
    # an up-sell of the same product keeps its row (clm.value.services.upsell)
    taken = set(Recommendation.objects.filter(kind=Recommendation.Kind.UP_SELL).values_list("account_id", "product_id"))
    for pk, a, p, status, *content in Recommendation.objects.filter(kind=Recommendation.Kind.CROSS_SELL).values_list(
        "id", "account_id", "product_id", "status", "because_of_id", "rank", "due_from", "due_to", "reason"
    ):
        existing[(a, p)] = (pk, status)
        stored[(a, p)] = (status, *content)
    owned = set()
    if len(known.lines):
        owned = set(zip(known.lines["account_id"].tolist(), known.lines["product_id"].tolist(), strict=True))
    counts = {"created": 0, "refreshed": 0, "unchanged": 0, "converted": 0, "withdrawn": 0}
    offered = set()
    create, refresh = [], []
    if len(offers):
        day = connection.ops.adapt_datefield_value(known.as_of)
        stamp = timezone.now()
        now = connection.ops.adapt_datetimefield_value(stamp)
        columns = {c: offers[c].tolist() for c in ("account_id", "product_id", "because_of", "rank", "score")}
        columns.update({c: offers[c].tolist() for c in ("confidence", "lift", "reason", "reason_zh")})
        due_from = [d.date() for d in pd.to_datetime(offers["due_from"])]
        due_to = [d.date() for d in pd.to_datetime(offers["due_to"])]
        unchanged = 0
        for i, (account, product) in enumerate(
            zip(columns["account_id"], columns["product_id"], strict=True)
        ):
            key = (int(account), int(product))
            if key in taken:
                continue
            offered.add(key)
            found = existing.get(key)
            if found and found[1] == Recommendation.Status.DISMISSED:
                continue
            status = (
                found[1]
                if found and found[1] == Recommendation.Status.ACCEPTED
                else Recommendation.Status.OPEN
            )
            reason = columns["reason"][i][:300]
            content = (
                str(status),
                int(columns["because_of"][i]),
                int(columns["rank"][i]),
                due_from[i],
                due_to[i],
            )
            if found and stored[key] == (*content, reason):
                unchanged += 1  # the same offer as yesterday: nothing to write
                continue
            row = (
                key[0], key[1], int(columns["because_of"][i]), "cross_sell", int(columns["rank"][i]),
                float(columns["score"][i]), float(columns["confidence"][i]), float(columns["lift"][i]),
                connection.ops.adapt_datefield_value(due_from[i]), connection.ops.adapt_datefield_value(due_to[i]),
                reason, columns["reason_zh"][i][:300], str(status), day, now, now,
            )  # fmt: skip
            if found is None:
                create.append(row)
            else:
                refresh.append(Recommendation(
                    pk=found[0], because_of_id=int(columns["because_of"][i]), kind="cross_sell",
                    rank=int(columns["rank"][i]), score=float(columns["score"][i]),
                    confidence=float(columns["confidence"][i]), lift=float(columns["lift"][i]),
                    due_from=due_from[i], due_to=due_to[i], reason=reason, reason_zh=columns["reason_zh"][i][:300],
                    status=str(status), computed_on=known.as_of, updated_at=stamp,
                ))  # fmt: skip
        names = [
            "account_id", "product_id", "because_of_id", "kind", "rank", "score", "confidence", "lift",
            "due_from", "due_to", "reason", "reason_zh", "status", "computed_on", "created_at", "updated_at",
        ]  # fmt: skip
        # new offers in one INSERT; refreshed ones by id (ids and created_at stay). No ON CONFLICT:
        # the unique index on (account, product) is partial (cross-sell rows only).
        bulk.insert(Recommendation, names, create)
        Recommendation.objects.bulk_update(refresh, [
            "because_of", "rank", "score", "confidence", "lift", "due_from", "due_to", "reason", "reason_zh",
            "status", "computed_on", "updated_at",
        ], batch_size=500)  # fmt: skip
        counts["unchanged"] = unchanged
    counts["created"], counts["refreshed"] = len(create), len(refresh)
    gone_converted, gone_withdrawn = [], []
    for key, (pk, status) in existing.items():
        if key in offered or status not in Recommendation.LIVE:
            continue
        if key in owned:
            gone_converted.append(pk)
        elif status == Recommendation.Status.OPEN:
            gone_withdrawn.append(pk)
    counts["converted"] = Recommendation.objects.filter(pk__in=gone_converted).update(
        status=Recommendation.Status.CONVERTED, computed_on=known.as_of
    )
    counts["withdrawn"] = Recommendation.objects.filter(pk__in=gone_withdrawn).update(
        status=Recommendation.Status.WITHDRAWN, computed_on=known.as_of
    )
    return counts


def set_recommendation_status(
    rec: Recommendation, status: str, *, actor=None, via: str = "system"
) -> Recommendation:
    """Sales act on a recommendation: accept it (working on it), dismiss it (never offered again
    for this product), or reopen it. Audited like every other change."""
    allowed = (Recommendation.Status.OPEN, Recommendation.Status.ACCEPTED, Recommendation.Status.DISMISSED)
    if status not in allowed:
        raise ValidationError({"status": _("must be one of %(kinds)s") % {"kinds": ", ".join(allowed)}})
    return core_services.update(rec, {"status": status}, actor=actor, via=via)
