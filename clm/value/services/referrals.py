"""Referrals (seed 003: 每成功推荐一个新客户签约……服务费减免; 超过40%来自于老客户推荐): codes per
account and contact, the attribution of a lead or account that arrives with one (API, import,
web form, by hand), the reward granted by rule when the referred customer signs — through the
loyalty ledger, once (a unique constraint, also under concurrency) — and the referral KPIs."""

from __future__ import annotations

import datetime as dt
import math
import secrets
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from clm.commerce.models import Subscription
from clm.core import services as core_services
from clm.core import workspace
from clm.core.access import visible_accounts
from clm.core.events import emit, emit_many, listen
from clm.core.services import Written, write_rule
from clm.customers.models import Account, Contact
from clm.value.models import CLVEstimate, LoyaltyEntry, Referral, ReferralCode, ReferralReward, ReferralRule

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: codes are read aloud and typed
CODE_LENGTH = 8


def _person(actor):
    return actor if getattr(actor, "pk", None) else None


def _require(actor, perm: str, message: str) -> None:
    if actor is not None and not actor.has_perm(perm):
        raise PermissionDenied(message)


def _require_account(actor, account: Account) -> None:
    if actor is not None and not visible_accounts(actor).filter(pk=account.pk).exists():
        raise PermissionDenied(_("You may not work on the account %(name)s.") % {"name": account.name})


def _new_code() -> str:
    while True:
        code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
        if not ReferralCode.objects.filter(code=code).exists():
            return code


@transaction.atomic
def code_for(actor, account: Account, contact: Contact | None = None, *, via: str = "system") -> ReferralCode:
    """The referral code of the account (or of one of its contacts), made the first time."""
    _require(actor, "value.add_referralcode", _("You may not make referral codes."))
    _require_account(actor, account)
    if contact is not None and contact.account_id != account.pk:
        raise ValidationError({"contact": _("%(name)s is not a contact of %(account)s.") % {
            "name": contact.name, "account": account.name}})
    Account.objects.select_for_update().filter(pk=account.pk).first()  # one code, however many ask at once
    found = ReferralCode.objects.filter(account=account, contact=contact).first()
    if found is not None:
        return found
    return core_services.create(
        ReferralCode, {"code": _new_code(), "account": account, "contact": contact}, actor=_person(actor), via=via
    )


def find_code(text) -> ReferralCode:
    """The active code, whatever its case and spacing; a clear refusal otherwise."""
    cleaned = "".join(str(text or "").split()).upper()
    found = ReferralCode.objects.select_related("account", "contact").filter(code=cleaned, active=True).first()
    if found is None:
        raise ValidationError({"code": _("There is no referral code %(code)s.") % {"code": cleaned or "–"}})
    return found


@transaction.atomic
def attribute(actor, code, *, account: Account | None = None, lead=None, channel: str, via: str = "system") -> Referral:
    """Attribute a new account or lead that arrived with ``code`` to its referrer; the account's
    "referred by" is filled in. Refused: an unknown code, someone referring themselves, an account
    that was a customer before it arrived, and anyone already attributed."""
    _require(actor, "value.add_referral", _("You may not record referrals."))
    found = code if isinstance(code, ReferralCode) else find_code(code)
    if (account is None) == (lead is None):
        raise ValidationError({"account": _("Name the account or the lead that arrived with the code.")})
    if lead is not None and account is None and lead.account_id:
        account = lead.account
    if account is not None:
        _require_account(actor, account)
        if account.pk == found.account_id:
            raise ValidationError({"code": _("An account cannot refer itself.")})
        late = channel in (Referral.Channel.API, Referral.Channel.FORM, Referral.Channel.MANUAL)
        if late and account.customer_since is not None and account.customer_since < timezone.localdate() and not lead:
            raise ValidationError({"account": _(
                "%(name)s has been a customer since %(day)s: a referral counts for new customers only."
            ) % {"name": account.name, "day": account.customer_since.isoformat()}})
    earlier = Referral.objects.filter(
        **({"referred_account": account} if account is not None else {"lead": lead})
    ).select_related("referrer").first()
    if earlier is None and lead is not None:
        earlier = Referral.objects.filter(lead=lead).select_related("referrer").first()
    if earlier is not None:
        raise ValidationError({"code": _("%(name)s was already referred by %(referrer)s.") % {
            "name": account.name if account is not None else lead.name, "referrer": earlier.referrer.name}})
    if channel not in Referral.Channel.values:
        raise ValidationError({"channel": _("Unknown channel %(channel)s.") % {"channel": channel}})
    referral = core_services.create(Referral, {
        "code": found, "referrer": found.account, "referrer_contact": found.contact,
        "referred_account": account, "lead": lead, "channel": channel,
    }, actor=_person(actor), via=via)
    if account is not None and account.referred_by_account_id is None:
        core_services.update(account, {
            "referred_by_account": found.account, "referred_by_contact": found.contact,
        }, actor=_person(actor), via=via)
    emit("referral.attributed", actor=_person(actor), referral_id=referral.pk, referrer_id=found.account_id,
         referrer_contact_id=found.contact_id, account_id=getattr(account, "pk", None),
         lead_id=getattr(lead, "pk", None), channel=channel)
    return referral


def active_rule() -> ReferralRule | None:
    return ReferralRule.objects.filter(active=True).order_by("position", "code").first()


def reward_terms(rule: ReferralRule | None, referrer_mrr: Decimal, rules=None) -> dict:
    """What the rule grants and what it costs, with the inputs: points are worth the workspace's
    credit per point; a service credit is booked as ⌈credit ÷ credit per point⌉ points; a discount
    on the next invoice costs percent × the referrer's MRR (its next monthly invoice). Without a
    rule, the workspace's referral points."""
    rules = rules or workspace.loyalty_rules()
    per_point = Decimal(str(rules.credit_per_point))
    if rule is None:
        kind, points, credit, percent = ReferralRule.Kind.POINTS, int(rules.referral_points), Decimal(0), Decimal(0)
    else:
        kind, credit, percent = rule.kind, Decimal(rule.credit), Decimal(rule.discount_percent)
        points = int(rule.points)
        if kind == ReferralRule.Kind.SERVICE_CREDIT:
            points = math.ceil(credit / per_point) if per_point > 0 else 0
    discount_cost = (percent / 100 * referrer_mrr) if kind == ReferralRule.Kind.INVOICE_DISCOUNT else Decimal(0)
    cost = (points * per_point + discount_cost).quantize(Decimal("0.01"))
    return {
        "kind": kind, "points": points, "credit": credit, "discount_percent": percent, "cost": cost,
        "inputs": {"credit_per_point": float(per_point), "referrer_mrr": float(referrer_mrr),
                   "points_value": float(points * per_point), "discount_cost": float(discount_cost)},
    }


@transaction.atomic
def grant_reward(referral: Referral, *, on: dt.date | None = None, actor=None, via: str = "system") -> ReferralReward:
    """The reward for a referral whose customer signed, by the active rule; never twice."""
    from .loyalty import add_entry

    _require(actor, "value.add_referralreward", _("You may not grant referral rewards."))
    referral = (
        Referral.objects.select_for_update(of=("self",)).select_related("referrer", "referred_account").get(pk=referral.pk)
    )
    referred = referral.referred_account
    if referred is None and referral.lead_id and referral.lead.account_id:
        referred = referral.lead.account
        core_services.update(referral, {"referred_account": referred}, actor=_person(actor), via=via)
    signed_on = referral.signed_on or getattr(referred, "customer_since", None)
    if referred is None or signed_on is None:
        raise ValidationError({"referral": _("The referred customer has not signed yet: the reward is granted "
                                             "when they sign their first contract.")})
    earlier = ReferralReward.objects.filter(referral=referral).first()
    if earlier is not None:
        raise ValidationError({"referral": _("This referral was already rewarded on %(day)s.") % {
            "day": earlier.granted_on.isoformat()}})
    on = on or signed_on
    if referral.signed_on is None:
        Referral.objects.filter(pk=referral.pk).update(signed_on=signed_on)
        referral.signed_on = signed_on
    mrr = Subscription.objects.filter(account=referral.referrer).live().aggregate(m=Sum("mrr"))["m"] or Decimal(0)
    rule = active_rule()
    terms = reward_terms(rule, Decimal(mrr))
    try:
        with transaction.atomic():
            reward = ReferralReward.objects.create(
                referral=referral, account=referral.referrer, rule=rule, kind=terms["kind"], points=terms["points"],
                credit=terms["credit"], discount_percent=terms["discount_percent"], cost=terms["cost"],
                inputs=terms["inputs"], granted_on=on,
            )
            if terms["points"] > 0:
                entry = add_entry(
                    referral.referrer, LoyaltyEntry.Kind.REFERRAL, terms["points"], on=on,
                    note=f"referral: {referred.name}"[:200], actor=actor, via=via, referred_account=referred,
                )
                ReferralReward.objects.filter(pk=reward.pk).update(entry=entry)
                reward.entry = entry
    except IntegrityError:
        raise ValidationError({"referral": _("This referral was already rewarded.")}) from None
    from clm.core import audit

    audit.record(_person(actor), via, "create", reward, {"kind": [None, reward.kind], "points": [None, reward.points],
                                                          "cost": [None, str(reward.cost)]})
    emit("referral.rewarded", actor=_person(actor), reward_id=reward.pk, referral_id=referral.pk,
         account_id=referral.referrer_id, referred_account_id=referred.pk, kind=reward.kind,
         points=reward.points, cost=float(reward.cost))
    return reward


def reward_signed(signed: dict[int, dt.date]) -> int:
    """The daily run's part, in bulk: of the accounts that have signed (``signed``: account → the
    day they became a customer), those referred (a referral, or "referred by" on the account) and
    not rewarded yet, rewarded by the active rule. A fixed number of queries whatever the count;
    the unique constraints (a reward per referral, a ledger entry per referred account) make a
    repeated or concurrent run add nothing."""
    rewarded = LoyaltyEntry.objects.filter(referred_account__isnull=False).values("referred_account_id")
    waiting = [
        row for row in Account.objects.exclude(referred_by_account=None).exclude(referral__reward__isnull=False)
        .exclude(pk__in=rewarded).order_by().values_list("pk", "referred_by_account_id", "referred_by_contact_id")
        if row[0] in signed and row[0] != row[1]
    ]
    if not waiting:
        return 0
    ids = [pk for pk, _, _ in waiting]
    Referral.objects.bulk_create(
        [Referral(referrer_id=r, referrer_contact_id=c, referred_account_id=pk, channel=Referral.Channel.RECORD)
         for pk, r, c in waiting],
        ignore_conflicts=True,
    )
    referrals = {r.referred_account_id: r for r in Referral.objects.filter(referred_account_id__in=ids)}
    for pk, referral in referrals.items():
        referral.signed_on = referral.signed_on or signed[pk]
    Referral.objects.bulk_update(list(referrals.values()), ["signed_on"], batch_size=500)
    rule = active_rule()
    mrr = dict(
        Subscription.objects.live().filter(account_id__in={r.referrer_id for r in referrals.values()})
        .order_by().values("account_id").annotate(m=Sum("mrr")).values_list("account_id", "m")
    )
    now, rules = timezone.now(), workspace.loyalty_rules()
    rewards, entries = [], []
    for pk, referral in referrals.items():
        terms = reward_terms(rule, Decimal(mrr.get(referral.referrer_id) or 0), rules)
        rewards.append(ReferralReward(
            referral=referral, account_id=referral.referrer_id, rule=rule, kind=terms["kind"], points=terms["points"],
            credit=terms["credit"], discount_percent=terms["discount_percent"], cost=terms["cost"],
            inputs=terms["inputs"], granted_on=referral.signed_on, created_at=now,
        ))
        if terms["points"] > 0:
            entries.append(LoyaltyEntry(
                account_id=referral.referrer_id, date=referral.signed_on, kind=LoyaltyEntry.Kind.REFERRAL,
                points=terms["points"], referred_account_id=pk, note="referred a customer who signed", created_at=now,
            ))
    LoyaltyEntry.objects.bulk_create(entries, batch_size=2000, ignore_conflicts=True)
    ReferralReward.objects.bulk_create(rewards, batch_size=2000, ignore_conflicts=True)
    entry_of = dict(LoyaltyEntry.objects.filter(referred_account_id__in=ids).values_list("referred_account_id", "pk"))
    made = list(ReferralReward.objects.filter(referral__referred_account_id__in=ids, entry__isnull=True, created_at=now)
                .select_related("referral"))
    for reward in made:
        reward.entry_id = entry_of.get(reward.referral.referred_account_id)
    ReferralReward.objects.bulk_update(made, ["entry"], batch_size=500)
    emit_many("referral.rewarded", [
        {"reward_id": r.pk, "referral_id": r.referral_id, "account_id": r.account_id,
         "referred_account_id": r.referral.referred_account_id, "kind": r.kind, "points": r.points,
         "cost": float(r.cost)}
        for r in made
    ])
    return len(made)


def attribute_imported(*, via: str = "import", ids=None) -> int:
    """Accounts that arrived (by import or the API) with a ``referral_code`` custom attribute and
    are not attributed yet (of ``ids``, or all): attributed now; an unknown code is left for the
    user to correct. One query finds them, whatever the number of accounts written."""
    done = 0
    rows = Account.objects.filter(custom__has_key="referral_code", referral__isnull=True)
    if ids is not None:
        rows = rows.filter(pk__in=list(ids))
    for account in rows:
        try:
            attribute(None, account.custom.get("referral_code"), account=account, channel=Referral.Channel.IMPORT, via=via)
        except ValidationError:
            continue
        done += 1
    return done


def unmatched(accounts) -> list[tuple[Account, str]]:
    """Of ``accounts``, those that arrived with a ``referral_code`` attribute no active code matches
    (a typo in an import, a code since deactivated), with the code as written: attribute_imported
    leaves them, and the referrals page lists them for someone to correct."""
    rows = accounts.filter(custom__has_key="referral_code", referral__isnull=True).order_by("name", "pk")
    written = [(account, "".join(str(account.custom.get("referral_code") or "").split()).upper()) for account in rows]
    known = set(ReferralCode.objects.filter(code__in={code for _, code in written}, active=True)
                .values_list("code", flat=True))
    return [(account, code) for account, code in written if code not in known]


@write_rule(Account)
def _attribute_on_import(written: Written) -> None:
    """An import that writes accounts with a referral code attributes them at once, inside the
    import's transaction (a dry run or a failed import attributes nothing); the referral event is
    heard when it commits. The daily run still catches any left over."""
    if written.via == "import":
        attribute_imported(via="import", ids=written.ids)


@listen("form.submitted")
def _attribute_form(event) -> None:
    """A web form sent with a referral code attributes its lead (or its contact's account)."""
    code = (event.payload.get("fields") or {}).get("referral_code")
    if not code:
        return
    from clm.sales.models import Lead

    lead = Lead.objects.filter(pk=event.payload.get("lead_id")).first() if event.payload.get("lead_id") else None
    account = None if lead else Account.objects.filter(pk=event.payload.get("account_id")).first()
    if lead is None and account is None:
        return
    try:
        attribute(None, code, account=account, lead=lead, channel=Referral.Channel.FORM, via="form")
    except ValidationError:
        pass


def latest_clv(account_ids) -> dict[int, Decimal]:
    """The latest CLV estimate of each account."""
    out: dict[int, Decimal] = {}
    for account_id, value in (
        CLVEstimate.objects.filter(account_id__in=list(account_ids)).order_by("account_id", "-as_of")
        .values_list("account_id", "value")
    ):
        out.setdefault(account_id, value)
    return out
