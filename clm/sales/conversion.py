"""A lead converts to an account, a contact and a new-business opportunity — into an existing
account when one matches by domain, name or pinyin (华为技术有限公司, 华为 and Huawei are one
company), never into a duplicate. The preview says what would happen; the deal won makes the
lead a customer."""

from __future__ import annotations

import re

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from clm.core import events
from clm.core.access import visible_accounts
from clm.core.events import listen
from clm.core.services import save_new
from clm.customers.models import Account, Contact
from clm.customers.services import search_key
from clm.sales.funnel import _record_move
from clm.sales.models import Lead, Opportunity

# Legal forms and generic words that do not tell two companies apart: Chinese ones wherever the
# name ends with them, Latin ones as whole words ("co" ends "Cisco" too).
CHINESE_SUFFIXES = sorted(["股份有限公司", "有限责任公司", "有限公司", "集团", "控股", "公司", "科技", "技术", "信息",
                           "网络", "软件", "(中国)", "（中国）", "中国"], key=len, reverse=True)
LATIN_SUFFIXES = {"co", "ltd", "limited", "inc", "corp", "corporation", "group", "holdings", "technologies",
                  "technology", "tech", "software", "gmbh", "llc", "plc", "company"}
_TRAILING = " ,.;:·&-()（）"
FREE_MAIL = {"qq.com", "163.com", "126.com", "gmail.com", "outlook.com", "hotmail.com", "yahoo.com", "sina.com",
             "foxmail.com", "139.com", "aliyun.com", "icloud.com"}
FIRMOGRAPHICS = ("domain", "industry", "region", "employee_count", "annual_revenue")
_SPACE = re.compile(r"[\s,.;:()（）·&-]+")


def core_name(name: str) -> str:
    """The distinctive part of a company name: legal forms and generic words removed, lower case."""
    text = (name or "").strip().lower().rstrip(_TRAILING)
    while text:
        head, _space, last = text.rpartition(" ")
        if head and last.rstrip(_TRAILING) in LATIN_SUFFIXES:
            text = head.rstrip(_TRAILING)
            continue
        suffix = next((x for x in CHINESE_SUFFIXES if text.endswith(x) and len(text) > len(x)), None)
        if suffix is None:
            break
        text = text[: -len(suffix)].rstrip(_TRAILING)
    return _SPACE.sub("", text)


def name_key(name: str) -> str:
    """The core name in full pinyin (Latin names as they are): 华为技术有限公司 → huawei."""
    return search_key(core_name(name)).split(" ")[0]


def lead_domain(lead: Lead) -> str:
    if lead.domain:
        return lead.domain.strip().lower().removeprefix("www.")
    host = lead.email.rpartition("@")[2].lower() if "@" in (lead.email or "") else ""
    return "" if host in FREE_MAIL else host


def matches(lead: Lead) -> list[dict]:
    """Accounts that are the lead's company: {"account", "by": domain|name|pinyin}, strongest first."""
    domain, core, key = lead_domain(lead), core_name(lead.company), name_key(lead.company)
    condition = Q(pk__in=[])
    if domain:
        condition |= Q(domain__iexact=domain) | Q(domain__iexact=f"www.{domain}")
    if core:
        condition |= Q(name__icontains=core)
    if key:
        condition |= Q(search_key__contains=key)
    found = []
    for account in Account.objects.filter(condition).order_by("pk")[:50]:
        if domain and account.domain.lower().removeprefix("www.") == domain:
            by = "domain"
        elif core and core_name(account.name) == core:
            by = "name"
        elif key and name_key(account.name) == key:
            by = "pinyin"
        else:
            continue
        found.append({"account": account, "by": by})
    order = {"domain": 0, "name": 1, "pinyin": 2}
    return sorted(found, key=lambda m: order[m["by"]])


def preview(user, lead: Lead) -> dict:
    """What converting would do: the matching accounts the user may see (and how many others
    match that they may not), the fields a merge would fill, and the contact."""
    found = matches(lead)
    visible = set(visible_accounts(user).filter(pk__in=[m["account"].pk for m in found]).values_list("pk", flat=True))
    shown = [m for m in found if m["account"].pk in visible]
    for m in shown:
        m["fills"] = {f: getattr(lead, f) for f in FIRMOGRAPHICS if getattr(lead, f) and not getattr(m["account"], f)}
        m["contact"] = (
            Contact.objects.filter(account=m["account"], email__iexact=lead.email).first() if lead.email else None
        )
    return {"matches": shown, "hidden": len(found) - len(shown)}


@transaction.atomic
def convert_lead(actor, lead: Lead, *, account_id: int | None = None, new_account: bool = False,
                 amount=0, via: str = "web") -> Lead:
    """Convert into ``account_id`` (one of the matches, or any account the user may see) or, with
    ``new_account``, into a new account — refused when an account already matches, so that no
    company is entered twice. Creates the contact (or finds it by email) and an opportunity."""
    if actor is not None and not (actor.has_perm("sales.change_lead") and actor.has_perm("customers.add_account")):
        raise PermissionDenied(_("You may not convert leads."))
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    if lead.status not in (Lead.Status.MAL, Lead.Status.MQL, Lead.Status.SQL):
        raise ValidationError({"lead": _("Only an open lead (MAL, MQL or SQL) converts; this one is %(stage)s.")
                               % {"stage": lead.get_status_display()}})
    if (account_id is None) == (not new_account):
        raise ValidationError({"account": _("Choose an account to merge into, or a new account.")})
    found = matches(lead)
    if account_id is not None:
        account = visible_accounts(actor).filter(pk=account_id).first() if actor else Account.objects.filter(pk=account_id).first()
        if account is None:
            raise ValidationError({"account": _("No account %(id)s among the accounts you may see.") % {"id": account_id}})
        merged = True
        fills = {f: getattr(lead, f) for f in FIRMOGRAPHICS if getattr(lead, f) and not getattr(account, f)}
        if fills:
            Account.objects.filter(pk=account.pk).update(**fills, updated_at=timezone.now())
    else:
        if found:
            seen = visible_accounts(actor).filter(pk__in=[m["account"].pk for m in found]) if actor else None
            names = ", ".join(a.name for a in seen[:3]) if seen is not None else found[0]["account"].name
            if not names:
                raise ValidationError({"account": _("An account you may not see matches this lead; ask its owner or a manager to convert it.")})
            raise ValidationError({"account": _("%(names)s already matches this lead: merge into it instead of creating a duplicate.")
                                   % {"names": names}})
        account = save_new(Account(
            name=lead.company, domain=lead_domain(lead), industry=lead.industry, region=lead.region,
            employee_count=lead.employee_count, annual_revenue=lead.annual_revenue,
            acquisition_channel=lead.source_channel, sales_owner_id=lead.owner_id,
        ), actor=actor, via=via)
        merged = False
    contact = Contact.objects.filter(account=account, email__iexact=lead.email).first() if lead.email else None
    if contact is None:
        contact = save_new(Contact(account=account, name=lead.name, email=lead.email, phone=lead.phone,
                                   title=lead.title), actor=actor, via=via)
    deal = save_new(Opportunity(account=account, name=_("%(company)s — new business") % {"company": account.name},
                                type=Opportunity.Type.NEW, amount=amount or 0, owner_id=lead.owner_id or getattr(actor, "pk", None)),
                    actor=actor, via=via)
    lead.account, lead.contact = account, contact
    lead.save(update_fields=["account", "contact", "updated_at"])
    _record_move(lead, Lead.Status.OPPORTUNITY, actor=actor, reason=_("Converted"), via=via, now=timezone.now(),
                 criteria={"by_hand": True, "account_id": account.pk, "opportunity_id": deal.pk, "merged": merged})
    events.emit("lead.converted", actor=actor, lead_id=lead.pk, account_id=account.pk, contact_id=contact.pk,
                merged=merged)
    return lead


@listen("opportunity.stage_changed")
def deal_won(event) -> None:
    """The new-business deal of a converted lead won: the lead is a customer."""
    if event.payload.get("after") != Opportunity.Stage.WON:
        return
    account_id = event.payload.get("account_id")
    with transaction.atomic():
        for lead in Lead.objects.select_for_update().filter(account_id=account_id, status=Lead.Status.OPPORTUNITY):
            _record_move(lead, Lead.Status.CONVERTED, actor=None, reason=_("Deal won"), via="system",
                         now=timezone.now(), criteria={"opportunity_id": event.payload.get("opportunity_id")})
