"""Quotes and their approval: a quote's totals, versions, the approvals its discount or size
needs (rules as data), the approvers' decisions, sending, and the customer's acceptance that
becomes a contract or an order without retyping. Each operation is one transaction, checks who may
do it, is audited (clm.core.services) and says what happened as a domain event."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal

from dateutil.relativedelta import relativedelta
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from clm.commerce.models import Order, OrderLine, Product, Subscription
from clm.core import records, services
from clm.core.access import visible_records
from clm.core.events import emit
from clm.core.models import User
from clm.sales import amendments, pipelines
from clm.sales.models import Approval, ApprovalRule, Opportunity, Quote, QuoteLine

CENT = Decimal("0.01")
OPEN = (Quote.Status.DRAFT, Quote.Status.PENDING, Quote.Status.APPROVED, Quote.Status.REJECTED, Quote.Status.SENT)


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def totals(lines: Iterable[Mapping], tax_rate: Decimal, term_months: int) -> dict[str, Decimal]:
    """A quote's figures from its lines ({list_price, quantity, discount, recurring}): recurring
    lines are priced per month and count ``term_months`` times in the totals, one-off lines once;
    tax on the net total. Every figure rounded to the cent, half up."""
    monthly = one_off = list_total = discount_total = Decimal(0)
    largest = Decimal(0)
    for line in lines:
        gross = Decimal(line["list_price"]) * Decimal(line["quantity"])
        off = gross * Decimal(line["discount"])
        times = term_months if line["recurring"] else 1
        if line["recurring"]:
            monthly += gross - off
        else:
            one_off += gross - off
        list_total += gross * times
        discount_total += off * times
        largest = max(largest, Decimal(line["discount"]))
    net = _money(list_total) - _money(discount_total)
    tax = _money(net * Decimal(tax_rate))
    return {
        "monthly": _money(monthly), "one_off": _money(one_off), "list_total": _money(list_total),
        "discount_total": _money(discount_total), "net_total": net, "tax_total": tax, "total": net + tax,
        "max_discount": largest,
    }  # fmt: skip


def _require(actor, action: str, model=Quote) -> None:
    if not records.may(actor, action, model):
        raise PermissionDenied(
            _("You may not create quotes.") if action == "add" else _("You may not change quotes.")
        )


def _visible_quote(actor, quote: Quote) -> Quote:
    if not visible_records(Quote, actor).filter(pk=quote.pk).exists():
        raise PermissionDenied(_("You may not work on this quote."))
    return quote


def _clean_lines(lines: list[Mapping]) -> list[dict]:
    """Lines as {product, quantity, discount[, list_price, description]}: each product active, a
    positive quantity, a discount from 0 to 1; the price is the catalogue's unless given."""
    if not lines:
        raise ValidationError({"lines": _("A quote needs at least one line.")})
    ids = {int(getattr(line["product"], "pk", line["product"])) for line in lines}
    products = Product.objects.in_bulk(ids)
    errors, out = {}, []
    for n, line in enumerate(lines, start=1):
        product = products.get(int(getattr(line["product"], "pk", line["product"])))
        where = f"lines[{n}]"
        if product is None:
            errors[where] = _("Line %(n)s: no such product.") % {"n": n}
            continue
        if not product.active:
            errors[where] = _("Line %(n)s: %(product)s is no longer sold.") % {"n": n, "product": product.name}
            continue
        quantity = Decimal(str(line.get("quantity", 1)))
        discount = Decimal(str(line.get("discount", 0)))
        price = Decimal(str(line["list_price"])) if line.get("list_price") is not None else product.list_price
        if quantity <= 0:
            errors[where] = _("Line %(n)s: the quantity must be above 0.") % {"n": n}
        elif not Decimal(0) <= discount <= Decimal(1):
            errors[where] = _("Line %(n)s: the discount is a share from 0 to 1 (0.15 for 15%%).") % {"n": n}
        elif price < 0:
            errors[where] = _("Line %(n)s: the price must not be negative.") % {"n": n}
        out.append({
            "line_no": n, "product": product, "description": (line.get("description") or product.name)[:200],
            "list_price": price, "recurring": product.is_recurring, "quantity": quantity, "discount": discount,
        })  # fmt: skip
    if errors:
        raise ValidationError(errors)
    return out


def _write(quote: Quote, lines: list[dict], actor, via: str) -> Quote:
    for name, value in totals(lines, quote.tax_rate, quote.term_months).items():
        setattr(quote, name, value)
    quote = services.save_new(quote, actor=actor, via=via)
    QuoteLine.objects.bulk_create(QuoteLine(quote=quote, **line) for line in lines)
    return quote


def _next_number(today: dt.date) -> str:
    prefix = f"Q-{today:%Y}-"
    last = Quote.objects.filter(number__startswith=prefix).order_by("-number").values_list("number", flat=True).first()
    return f"{prefix}{int(last.rsplit('-', 1)[1]) + 1 if last else 1:04d}"


@transaction.atomic
def create_quote(actor, opportunity: Opportunity, lines: list[Mapping], *, via: str = "ui", **fields) -> Quote:
    """A new draft quote (version 1) for a deal the actor may see; ``fields`` are valid_until,
    term_months, tax_rate, language, notes and amends (a live contract of the account: an upgrade)."""
    _require(actor, "add")
    if not visible_records(Opportunity, actor).filter(pk=opportunity.pk).exists():
        raise PermissionDenied(_("You may not work on this deal."))
    if opportunity.stage in Opportunity.CLOSED:
        raise ValidationError({"opportunity": _("The deal is closed; reopen it before quoting.")})
    clean = _clean_lines(lines)
    amendments.check(opportunity, fields.get("amends"))
    quote = Quote(opportunity=opportunity, number=_next_number(timezone.localdate()), created_by=actor, **fields)
    quote = _write(quote, clean, actor, via)
    emit("quote.created", actor=actor, quote_id=quote.pk, opportunity_id=opportunity.pk)
    return quote


@transaction.atomic
def revise(actor, quote: Quote, lines: list[Mapping] | None = None, *, via: str = "ui", **fields) -> Quote:
    """A new draft version of an open quote (the old one is superseded and its pending approvals
    withdrawn): the lines and fields given replace the old ones."""
    _require(actor, "add")
    quote = _visible_quote(actor, Quote.objects.select_for_update().get(pk=quote.pk))
    if quote.status not in OPEN:
        raise ValidationError({"status": _("A quote that is %(status)s cannot be revised.") % {
            "status": quote.get_status_display()}})  # fmt: skip
    old_lines = [
        {"product": li.product_id, "quantity": li.quantity, "discount": li.discount, "list_price": li.list_price,
         "description": li.description}
        for li in quote.lines.all()
    ]  # fmt: skip
    clean = _clean_lines(lines if lines is not None else old_lines)
    _withdraw(quote, actor)
    services.update(quote, {"status": Quote.Status.SUPERSEDED}, actor=actor, via=via)
    keep = {k: getattr(quote, k) for k in ("valid_until", "term_months", "tax_rate", "language", "notes", "amends")}
    new = Quote(opportunity=quote.opportunity, number=quote.number, version=quote.version + 1, created_by=actor,
                **(keep | fields))  # fmt: skip
    return _write(new, clean, actor, via)


def _withdraw(quote: Quote, actor) -> None:
    for approval in quote.approvals.filter(status=Approval.Status.PENDING):
        services.update(approval, {"status": Approval.Status.WITHDRAWN, "decided_at": timezone.now()}, actor=actor)


def needed(quote: Quote) -> list[tuple[ApprovalRule, str]]:
    """The rules this quote falls under, with why, in the rules' order. A discount above every
    rule's bound cannot be approved: ValidationError says what the rules allow."""
    rules = list(ApprovalRule.objects.filter(active=True))
    out = []
    for rule in rules:
        why = []
        if rule.above_discount is not None and quote.max_discount > rule.above_discount:
            why.append(_("a discount of %(d)s%%, above %(limit)s%%") % {
                "d": _pct(quote.max_discount), "limit": _pct(rule.above_discount)})  # fmt: skip
        if rule.from_total is not None and quote.total >= rule.from_total:
            why.append(_("a total of %(total)s, from %(limit)s on") % {"total": quote.total, "limit": rule.from_total})
        if why:
            out.append((rule, "; ".join(why)))
    bounds = [r.up_to_discount for r in rules if r.up_to_discount is not None]
    if quote.max_discount > 0 and bounds and quote.max_discount > max(bounds) and all(
        r.up_to_discount is not None for r in rules if r.above_discount is not None
    ):
        raise ValidationError({"discount": _(
            "No one may approve a discount of %(d)s%%: the approval rules go up to %(limit)s%%."
        ) % {"d": _pct(quote.max_discount), "limit": _pct(max(bounds))}})  # fmt: skip
    return out


def _pct(share: Decimal) -> str:
    return f"{(share * 100).normalize():f}"


def approver_for(rule: ApprovalRule, quote: Quote) -> User:
    """The rule's named approver, else an active user of its role — in the deal owner's team first."""
    if rule.approver_id:
        if rule.approver.is_active:
            return rule.approver
        raise ValidationError({"approver": _("%(name)s, who approves under the rule “%(rule)s”, is not active.") % {
            "name": rule.approver.get_username(), "rule": rule.name}})  # fmt: skip
    holders = User.objects.filter(is_active=True, groups__name=rule.approver_role).order_by("pk")
    owner = quote.opportunity.owner
    team = holders.filter(team_id=owner.team_id).first() if owner and owner.team_id else None
    found = team or holders.first()
    if found is None:
        raise ValidationError({"approver": _("No active user holds the role %(role)s to approve under “%(rule)s”.") % {
            "role": rule.get_approver_role_display(), "rule": rule.name}})  # fmt: skip
    return found


@transaction.atomic
def submit(actor, quote: Quote, *, via: str = "ui") -> Quote:
    """Ask for the approvals the quote needs; with none it is approved at once."""
    _require(actor, "change")
    quote = _visible_quote(actor, Quote.objects.select_for_update().get(pk=quote.pk))
    if quote.status not in (Quote.Status.DRAFT, Quote.Status.REJECTED):
        raise ValidationError({"status": _("Only a draft or a rejected quote can be submitted; revise it first.")
                               if quote.status != Quote.Status.PENDING else _("The quote already awaits approval.")})
    rules = needed(quote)
    if not rules:
        return services.update(quote, {"status": Quote.Status.APPROVED}, actor=actor, via=via)
    approvals = [
        services.save_new(Approval(quote=quote, rule=rule, reason=why, approver=approver_for(rule, quote)),
                          actor=actor, via=via)
        for rule, why in rules
    ]  # fmt: skip
    quote = services.update(quote, {"status": Quote.Status.PENDING}, actor=actor, via=via)
    for approval in approvals:
        emit("quote.approval_requested", actor=actor, quote_id=quote.pk, approval_id=approval.pk,
             approver_id=approval.approver_id, account_id=quote.opportunity.account_id)  # fmt: skip
    return quote


@transaction.atomic
def decide(actor, approval: Approval, *, approve: bool, comment: str = "", via: str = "ui") -> Approval:
    """The approver's (or an admin's) decision. A rejection needs a comment and rejects the
    quote; the last approval approves it."""
    approval = Approval.objects.select_for_update().select_related("quote").get(pk=approval.pk)
    if approval.approver_id != actor.pk and not actor.is_superuser:
        raise PermissionDenied(_("Only %(name)s may decide this approval.") % {"name": approval.approver.get_username()})
    if approval.status != Approval.Status.PENDING:
        raise ValidationError({"status": _("This approval was already decided (%(status)s).") % {
            "status": approval.get_status_display()}})  # fmt: skip
    comment = (comment or "").strip()
    if not approve and not comment:
        raise ValidationError({"comment": _("Say why the quote is rejected.")})
    status = Approval.Status.APPROVED if approve else Approval.Status.REJECTED
    approval = services.update(approval, {"status": status, "comment": comment, "decided_at": timezone.now(),
                                          "decided_by": actor}, actor=actor, via=via)  # fmt: skip
    quote = approval.quote
    if not approve:
        _withdraw(quote, actor)
        services.update(quote, {"status": Quote.Status.REJECTED}, actor=actor, via=via)
        emit("quote.rejected", actor=actor, quote_id=quote.pk, approval_id=approval.pk, comment=comment)
    elif not quote.approvals.filter(status=Approval.Status.PENDING).exists():
        services.update(quote, {"status": Quote.Status.APPROVED}, actor=actor, via=via)
        emit("quote.approved", actor=actor, quote_id=quote.pk)
    return approval


def check_sendable(quote: Quote) -> None:
    """Refuse a quote that may not go to the customer: one that needs approval or awaits it, was
    rejected, or is no longer open. An approved or sent quote, or a draft needing no approval, may."""
    if quote.status in (Quote.Status.APPROVED, Quote.Status.SENT):
        return
    if quote.status == Quote.Status.DRAFT:
        rules = needed(quote)
        if rules:
            raise ValidationError({"status": _("The quote needs approval (%(why)s); submit it first.") % {
                "why": "; ".join(why for _rule, why in rules)}})  # fmt: skip
        return
    raise ValidationError({"status": {
        Quote.Status.PENDING: _("The quote cannot be sent while an approval is pending."),
        Quote.Status.REJECTED: _("The quote was rejected; revise it and submit it again."),
    }.get(quote.status, _("A quote that is %(status)s cannot be sent.") % {"status": quote.get_status_display()})})


@transaction.atomic
def send(actor, quote: Quote, *, via: str = "ui") -> Quote:
    """Mark an approved quote as sent to the customer; a quote awaiting approval cannot be sent."""
    _require(actor, "change")
    quote = _visible_quote(actor, Quote.objects.select_for_update().get(pk=quote.pk))
    if quote.status == Quote.Status.SENT:
        raise ValidationError({"status": _("A quote that is %(status)s cannot be sent.") % {"status": quote.get_status_display()}})
    check_sendable(quote)
    if quote.status == Quote.Status.DRAFT:
        quote = services.update(quote, {"status": Quote.Status.APPROVED}, actor=actor, via=via)
    quote = services.update(quote, {"status": Quote.Status.SENT, "sent_at": timezone.now()}, actor=actor, via=via)
    emit("quote.sent", actor=actor, quote_id=quote.pk, account_id=quote.opportunity.account_id)
    return quote


@transaction.atomic
def accept(actor, quote: Quote, *, start: dt.date | None = None, via: str = "ui") -> dict:
    """The customer accepted: each recurring line becomes a contract from ``start`` for the quote's
    term (seats = quantity, MRR = the line's net monthly amount) or, for an upgrade quote, amends
    the live contract from ``start`` (clm.sales.amendments); the one-off lines one order, the deal
    is won with the quote's total, and the other versions are superseded."""
    _require(actor, "change")
    quote = _visible_quote(actor, Quote.objects.select_for_update().get(pk=quote.pk))
    if quote.status != Quote.Status.SENT:
        raise ValidationError({"status": _("Only a sent quote can be accepted (this one is %(status)s).") % {
            "status": quote.get_status_display()}})  # fmt: skip
    if quote.valid_until and timezone.localdate() > quote.valid_until:
        raise ValidationError({"valid_until": _("The quote expired on %(day)s; revise it.") % {"day": quote.valid_until}})
    start = start or timezone.localdate()
    account = quote.opportunity.account
    lines = list(quote.lines.select_related("product"))
    contracts = amendments.amend(quote, lines, start, actor=actor, via=via) if quote.amends_id else []
    for line in (li for li in lines if li.recurring and not quote.amends_id):
        mrr = _money(line.list_price * line.quantity * (1 - line.discount))
        contracts.append(services.create(Subscription, {
            "account": account, "product": line.product, "start_date": start, "seats": max(1, int(line.quantity)),
            "mrr": mrr, "end_date": (start + relativedelta(months=quote.term_months)) - dt.timedelta(days=1),
            "renewal_date": (start + relativedelta(months=quote.term_months)),
        }, actor=actor, via=via))  # fmt: skip
    order = None
    one_off = [li for li in lines if not li.recurring]
    if one_off:
        amounts = [_money(li.list_price * li.quantity * (1 - li.discount)) for li in one_off]
        order = services.create(Order, {"account": account, "ordered_on": start, "amount": sum(amounts, Decimal(0))},
                                actor=actor, via=via)  # fmt: skip
        OrderLine.objects.bulk_create(
            OrderLine(order=order, line_no=n, product=li.product, quantity=li.quantity, amount=amount)
            for n, (li, amount) in enumerate(zip(one_off, amounts, strict=True), start=1)
        )
    quote = services.update(quote, {"status": Quote.Status.ACCEPTED, "decided_at": timezone.now()}, actor=actor, via=via)
    others = Quote.objects.filter(number=quote.number).exclude(pk=quote.pk).filter(status__in=OPEN)
    for other in others:
        services.update(other, {"status": Quote.Status.SUPERSEDED}, actor=actor, via=via)
    deal = quote.opportunity
    if deal.stage != Opportunity.Stage.WON:
        pipelines.move(actor, deal, Opportunity.Stage.WON, via=via, amount=quote.total)
    emit("quote.accepted", actor=actor, quote_id=quote.pk, account_id=account.pk,
         subscription_ids=[c.pk for c in contracts], order_id=order.pk if order else None)  # fmt: skip
    return {"quote": quote, "subscriptions": contracts, "order": order}


@transaction.atomic
def decline(actor, quote: Quote, *, reason: str, via: str = "ui") -> Quote:
    _require(actor, "change")
    quote = _visible_quote(actor, Quote.objects.select_for_update().get(pk=quote.pk))
    if quote.status != Quote.Status.SENT:
        raise ValidationError({"status": _("Only a sent quote can be declined.")})
    if not (reason or "").strip():
        raise ValidationError({"reason": _("Say why the customer declined.")})
    quote = services.update(quote, {"status": Quote.Status.DECLINED, "decided_at": timezone.now(),
                                    "notes": f"{quote.notes}\n{reason.strip()}".strip()}, actor=actor, via=via)  # fmt: skip
    emit("quote.declined", actor=actor, quote_id=quote.pk, reason=reason.strip())
    return quote


def pending_for(user):
    """The approvals waiting for ``user``."""
    return Approval.objects.filter(Q(approver=user), status=Approval.Status.PENDING).select_related(
        "quote__opportunity__account"
    )

