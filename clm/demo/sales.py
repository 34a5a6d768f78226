"""The demo's sales process: the built-in pipelines hold the simulated deals; the new-business
pipeline asks for what a sales manager would before a deal moves on (an amount from the proposal
on, a close date for negotiation, a reason when lost); approval rules as a small company writes
them (the sales manager above 15% off, the director — the admin login — above 30%, nobody above
50%); and quotes on the open deals in proposal and negotiation, some waiting for approval."""

import random
from decimal import Decimal

from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q

from clm.commerce.models import Product
from clm.core.models import Role, User
from clm.demo.simulator import demo_password_hash
from clm.sales import quotes
from clm.sales.models import ApprovalRule, Opportunity, PipelineStage, Quote
from clm.sales.pipelines import install_built_in

REQUIRED = {"proposal": ["amount"], "negotiation": ["expected_close"], "lost": ["lost_reason"]}
DISCOUNTS = [Decimal(d) for d in ("0", "0.05", "0.10", "0.10", "0.12", "0.20", "0.25", "0.35")]
QUOTED = 40  # open deals that get a quote


def sales_process(seed: int = 7) -> int:
    """Pipelines, approval rules, a sales manager and quotes; the number of quotes written."""
    install_built_in()
    for key, fields in REQUIRED.items():
        PipelineStage.objects.filter(pipeline__key="new-business", key=key).update(required_fields=fields)
    manager = _sales_manager()
    admin = User.objects.filter(username="admin").first()
    if not ApprovalRule.objects.exists():
        ApprovalRule.objects.create(name="销售经理审批：折扣超过 15%", above_discount=Decimal("0.15"),
                                    up_to_discount=Decimal("0.30"), approver_role=Role.MANAGER, order=1)  # fmt: skip
        ApprovalRule.objects.create(name="销售总监审批：折扣超过 30% 或合计 50 万元起", above_discount=Decimal("0.30"),
                                    up_to_discount=Decimal("0.50"), from_total=Decimal(500_000), approver=admin,
                                    order=2)  # fmt: skip
    if Quote.objects.exists():
        return 0
    return _quotes(random.Random(seed), manager)


def _sales_manager() -> User:
    manager = User.objects.filter(username="manager01").first()
    if manager is None:
        team = User.objects.filter(groups__name=Role.SALES).exclude(team=None).values_list("team_id", flat=True).first()
        manager = User.objects.create(username="manager01", first_name="志强", last_name="陈", team_id=team,
                                      email="manager01@yunfan-demo.cn", password=demo_password_hash(),
                                      language="zh-hans")  # fmt: skip
        manager.groups.add(Group.objects.get(name=Role.MANAGER))
    return manager


def _quotes(rng: random.Random, manager: User) -> int:
    plans = list(Product.objects.filter(is_recurring=True, active=True, name__contains="席位").order_by("list_price"))
    service = Product.objects.filter(is_recurring=False, active=True, name__contains="实施").first()
    if not plans:
        return 0
    deals = (
        Opportunity.objects.filter(stage__in=["proposal", "negotiation"])
        .exclude(Q(owner=None) | Q(amount=0)).select_related("owner", "account__sales_owner").order_by("pk")[:QUOTED]
    )  # fmt: skip
    written = 0
    for deal in deals:
        plan = rng.choice(plans)
        seats = max(5, int(deal.amount / (plan.list_price * 12)))
        discount = rng.choice(DISCOUNTS)
        lines = [{"product": plan.pk, "quantity": seats, "discount": discount}]
        if service is not None and rng.random() < 0.5:
            lines.append({"product": service.pk, "quantity": 1, "discount": Decimal(0)})
        rep = deal.owner if deal.owner.has_perm("sales.add_quote") else deal.account.sales_owner
        if rep is None:
            continue
        try:
            quote = quotes.create_quote(rep, deal, lines, via="demo", notes="")
            quote = quotes.submit(rep, quote, via="demo")
        except (ValidationError, PermissionDenied):  # a discount nobody may approve: the deal stays unquoted
            continue
        written += 1
        pending = list(quote.approvals.filter(approver=manager))
        if pending and rng.random() < 0.5:
            quotes.decide(manager, pending[0], approve=True, comment="同意，战略客户", via="demo")
            quote.refresh_from_db()
        if quote.status == Quote.Status.APPROVED and rng.random() < 0.6:
            quotes.send(rep, quote, via="demo")
    return written
