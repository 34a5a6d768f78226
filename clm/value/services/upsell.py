"""Up-sell recommendations beside the cross-sell ones: the day's offers from the usage rollups and
the contract ledger (rule: clm.analytics.upsell), reconciled with the stored ones, their
conversions read from the ledger with the expansion MRR each brought, and the programme's KPI."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pandas as pd
from django.db.models import Count, Sum

from clm.analytics import upsell
from clm.commerce.models import Product, Subscription
from clm.core.frames import read_frame
from clm.usage.models import Feature, UsageDailyUser, UsageFeatureDaily
from clm.value.models import Recommendation, UpsellSettings

from .loading import Known

LIVE = ("active", "trial")
BATCH = 1000
# what a refresh writes; a fresh offer (new, or a cross-sell row becoming the up-sell) also OFFERED
REFRESHED = ["kind", "because_of", "rank", "score", "confidence", "lift", "reason", "reason_zh", "evidence", "computed_on"]
OFFERED = ["offered_on", "baseline_mrr", "due_from", "due_to", "status"]


@dataclass
class Prepared:
    offers: pd.DataFrame  # clm.analytics.upsell.OFFER_COLUMNS
    ledger: pd.DataFrame  # the ledger with each change's product family
    plans: pd.DataFrame  # product_id, family, list_price, name
    settings: UpsellSettings


def thresholds(s: UpsellSettings) -> upsell.Thresholds:
    return upsell.Thresholds(s.seat_utilisation, s.growth, s.core_breadth, s.min_users, s.target_utilisation)


def prepare(known: Known) -> Prepared:
    """Read what the rule needs as of ``known.as_of`` and compute the day's up-sell offers."""
    s = UpsellSettings.current()
    products = read_frame(
        Product.objects.order_by().values_list("id", "family", "list_price", "name", "is_recurring"),
        ["product_id", "family", "list_price", "name", "is_recurring"],
    )
    products["list_price"] = products["list_price"].astype(float)
    sub_product = dict(Subscription.objects.order_by().values_list("id", "product_id"))
    ledger = known.changes.copy()
    ledger["product_id"] = ledger["subscription_id"].map(sub_product)
    ledger["family"] = ledger["product_id"].map(products.set_index("product_id")["family"])
    ledger = ledger[ledger["family"].notna() & (ledger["family"] != "")]
    latest = ledger.groupby("subscription_id").tail(1)
    contracts = latest[latest["status_after"].isin(LIVE) & (latest["mrr_after"] > 0)]
    contracts = contracts[~contracts["account_id"].isin(list(known.churned))]
    contracts = contracts.rename(columns={"seats_after": "seats", "mrr_after": "mrr"})
    wanted = [f.strip() for f in s.plan_families.split(",") if f.strip()]
    if not wanted:  # families sold per seat
        seats = contracts.groupby("family")["seats"].median()
        wanted = seats[seats > 1].index.tolist()
    plans = products[products["is_recurring"] & products["family"].isin(wanted)]
    usage = _usage(known.as_of, s.window_days, contracts["account_id"].unique().tolist())
    offers = upsell.upsell_offers(
        contracts[["account_id", "product_id", "seats", "mrr"]], usage, plans, thresholds(s)
    )
    return Prepared(offers, ledger, plans, s)


def _usage(as_of: dt.date, days: int, accounts: list) -> pd.DataFrame:
    """Per account: distinct active users in the window ending ``as_of`` and in the one before it,
    core features used in the window and the number of core features."""
    start, before = as_of - dt.timedelta(days=days - 1), as_of - dt.timedelta(days=2 * days - 1)
    rows = UsageDailyUser.objects.filter(account_id__in=accounts).order_by().values_list("account_id")
    users = dict(rows.filter(day__range=(start, as_of)).annotate(n=Count("user_key", distinct=True)))
    earlier = dict(
        rows.filter(day__range=(before, start - dt.timedelta(days=1))).annotate(
            n=Count("user_key", distinct=True)
        )
    )
    core = list(Feature.objects.filter(is_core=True).values_list("key", flat=True))
    used = dict(
        UsageFeatureDaily.objects.filter(account_id__in=accounts, day__range=(start, as_of), feature__in=core, events__gt=0)
        .order_by().values_list("account_id").annotate(n=Count("feature", distinct=True))
    )  # fmt: skip
    frame = pd.DataFrame({"account_id": accounts})
    frame["users"] = frame["account_id"].map(users).fillna(0)
    frame["users_before"] = frame["account_id"].map(earlier).fillna(0)
    frame["core_used"] = frame["account_id"].map(used).fillna(0)
    frame["core_total"] = len(core)
    return frame


def reasons(o, names: dict, days: int, money: str = "¥") -> tuple[str, str]:
    """The offer ``o`` (one row of the offers) in words, English and Chinese."""
    en, zh = [], []
    en.append(f"{o.seats_used} active users on {o.seats} seats in the last {days} days ({o.utilisation:.0%})")
    zh.append(f"近{days}天活跃用户{o.seats_used}人，合同席位{o.seats}个（使用率{o.utilisation:.0%}）")
    if o.growth is not None and not pd.isna(o.growth):
        en.append(f"active users {o.growth:+.0%} on the {days} days before")
        zh.append(f"较前{days}天{'增长' if o.growth >= 0 else '下降'}{abs(o.growth):.0%}")
    if o.breadth is not None and not pd.isna(o.breadth):
        en.append(f"uses {o.breadth:.0%} of the core features")
        zh.append(f"核心功能使用覆盖{o.breadth:.0%}")
    why = [w for w in o.signals.split(",") if w]
    words = {"seats": ("seats full", "席位已满"), "growth": ("growing fast", "用户快速增长"),
             "breadth": ("every core feature in use", "核心功能全部在用")}
    if why:
        en.append("why: " + ", ".join(words[w][0] for w in why))
        zh.append("原因：" + "、".join(words[w][1] for w in why))
    if o.action == upsell.UPGRADE:
        en.append(
            f"offer: upgrade to {names[o.product_id]} (+{money}{o.potential_mrr:,.0f} MRR at list price)"
        )
        zh.append(f"建议升级至{names[o.product_id]}（按标价每月增收{money}{o.potential_mrr:,.0f}）")
    else:
        en.append(f"offer: {o.added_seats} more seats (+{money}{o.potential_mrr:,.0f} MRR)")
        zh.append(f"建议增购{o.added_seats}个席位（每月增收{money}{o.potential_mrr:,.0f}）")
    return ("; ".join(en) + ".")[:300], ("；".join(zh) + "。")[:300]


def sync(prepared: Prepared, known: Known) -> dict:
    """Record conversions first (from the ledger), then bring the stored up-sell recommendations
    in line with today's offers: new ones open with the family's MRR that day as the baseline,
    live ones are refreshed, live ones no longer offered are withdrawn. A dismissed offer is not
    made again (the same action on the same product); a converted one stays as it is, and a later
    offer on its product — more seats on the plan the account upgraded to — is a new row: at most
    one live up-sell per account and product. A cross-sell row for the same product becomes the
    up-sell. Runs inside the daily run's transaction."""
    s, as_of = prepared.settings, known.as_of
    counts = {"created": 0, "refreshed": 0, "converted": 0, "withdrawn": 0}
    counts["converted"] = _record_conversions(prepared, as_of)
    names = dict(zip(prepared.plans["product_id"], prepared.plans["name"], strict=True))
    family = dict(zip(prepared.plans["product_id"], prepared.plans["family"], strict=True))
    existing = _current(prepared.offers["account_id"].unique().tolist())
    baselines = upsell.family_mrrs(prepared.ledger, pd.Timestamp(as_of))
    offered, create, update = set(), [], {}
    for o in prepared.offers.itertuples(index=False):
        key = (o.account_id, o.product_id)
        offered.add(key)
        rec = existing.get(key)
        if rec is not None and (
            rec.status == Recommendation.Status.DISMISSED
            and (rec.kind == Recommendation.Kind.CROSS_SELL or rec.evidence.get("action") == o.action)
        ):
            continue  # the user said no to this offer
        if rec is not None and rec.status == Recommendation.Status.CONVERTED and rec.kind == Recommendation.Kind.CROSS_SELL:
            continue
        if rec is not None and rec.kind == Recommendation.Kind.UP_SELL and rec.status in (
            Recommendation.Status.CONVERTED, Recommendation.Status.DISMISSED
        ):
            rec = None  # its history stays; a new offer (seats on the plan it upgraded to) is a new row
        reason, reason_zh = reasons(o, names, s.window_days)
        evidence = {
            k: (None if pd.isna(v) else v) if isinstance(v, float) else v
            for k, v in o._asdict().items() if k not in ("account_id", "product_id")
        }  # fmt: skip
        fields = {
            "kind": Recommendation.Kind.UP_SELL, "because_of_id": o.current_product_id, "rank": 1,
            "score": float(o.potential_mrr), "confidence": float(o.utilisation), "lift": 0.0,
            "reason": reason, "reason_zh": reason_zh, "evidence": evidence, "computed_on": as_of,
        }  # fmt: skip
        fresh = (
            rec is None or rec.kind != Recommendation.Kind.UP_SELL or rec.status not in Recommendation.LIVE
        )
        if fresh:
            baseline = float(baselines.get((o.account_id, family[o.product_id]), 0.0))
            fields.update(
                offered_on=as_of, baseline_mrr=Decimal(str(round(baseline, 2))), due_from=as_of,
                due_to=as_of + dt.timedelta(days=s.due_days), status=Recommendation.Status.OPEN,
            )  # fmt: skip
        if rec is None:
            create.append(Recommendation(account_id=o.account_id, product_id=o.product_id, **fields))
        else:
            for name, value in fields.items():
                setattr(rec, name, value)
            update[rec.pk] = rec
    # in bulk: a query per offer made the run's time grow with the offers; the rows' fields are
    # the same either way (an update leaves updated_at as it was, as QuerySet.update did)
    Recommendation.objects.bulk_create(create, batch_size=BATCH)
    Recommendation.objects.bulk_update(list(update.values()), REFRESHED + OFFERED, batch_size=BATCH)
    counts["created"], counts["refreshed"] = len(create), len(update)
    gone = [
        pk for pk, a, p in Recommendation.objects.filter(kind=Recommendation.Kind.UP_SELL, status__in=Recommendation.LIVE)
        .values_list("pk", "account_id", "product_id") if (a, p) not in offered
    ]  # fmt: skip
    counts["withdrawn"] = Recommendation.objects.filter(pk__in=gone).update(
        status=Recommendation.Status.WITHDRAWN, computed_on=as_of
    )
    return counts


def _current(accounts: list) -> dict:
    """The recommendation each (account, product) offer would continue: the live up-sell if there
    is one, else the cross-sell row, else the latest up-sell (converted, dismissed or withdrawn)."""
    out: dict = {}
    rank = {True: 0, False: 1}
    for rec in Recommendation.objects.filter(account_id__in=accounts).order_by("-created_at", "-pk"):
        key = (rec.account_id, rec.product_id)
        order = (rank[rec.kind == Recommendation.Kind.UP_SELL and rec.status in Recommendation.LIVE],
                 rank[rec.kind == Recommendation.Kind.CROSS_SELL])
        if key not in out or order < out[key][0]:
            out[key] = (order, rec)
    return {key: rec for key, (_order, rec) in out.items()}


def _record_conversions(prepared: Prepared, as_of: dt.date) -> int:
    """Up-sell recommendations (live or withdrawn, not yet converted) whose account raised its MRR
    on the family within the attribution window: converted, with the expansion MRR."""
    rows = list(
        Recommendation.objects.filter(
            kind=Recommendation.Kind.UP_SELL, converted_on__isnull=True, offered_on__isnull=False,
            status__in=(*Recommendation.LIVE, Recommendation.Status.WITHDRAWN),
            offered_on__gte=as_of - dt.timedelta(days=prepared.settings.attribution_days),
        ).values_list("pk", "account_id", "product__family", "offered_on", "baseline_mrr")
    )  # fmt: skip
    if not rows:
        return 0
    recs = pd.DataFrame(rows, columns=["rec_id", "account_id", "family", "since", "baseline"])
    recs["since"] = pd.to_datetime(recs["since"])
    recs["baseline"] = recs["baseline"].astype(float)
    ledger = prepared.ledger[prepared.ledger["account_id"].isin(recs["account_id"].unique())]
    found = upsell.conversions(recs, ledger)
    limit, n = prepared.settings.attribution_days, 0
    for r in found.merge(recs[["rec_id", "since"]], on="rec_id").itertuples(index=False):
        if (r.converted_on - r.since).days > limit:
            continue
        Recommendation.objects.filter(pk=r.rec_id).update(
            status=Recommendation.Status.CONVERTED, converted_on=r.converted_on.date(),
            expansion_mrr=Decimal(str(r.expansion_mrr)), computed_on=as_of,
        )  # fmt: skip
        n += 1
    return n


def upsell_kpis(start: dt.date, end: dt.date, recommendations=None) -> dict:
    """Up-sell conversion rate and expansion MRR for the up-sell recommendations first offered
    between ``start`` and ``end`` (inclusive): offered, converted, rate = converted ÷ offered
    (None without offers), expansion_mrr = the MRR the converted ones added. ``recommendations``:
    a queryset to count within (a user's visible records); all of them by default."""
    rows = (Recommendation.objects.all() if recommendations is None else recommendations).filter(
        kind=Recommendation.Kind.UP_SELL, offered_on__range=(start, end)
    )
    offered = rows.count()
    converted = rows.filter(converted_on__isnull=False)
    agg = converted.aggregate(n=Count("pk"), mrr=Sum("expansion_mrr"))
    return {
        "offered": offered,
        "converted": agg["n"],
        "conversion_rate": agg["n"] / offered if offered else None,
        "expansion_mrr": agg["mrr"] or Decimal("0"),
    }
