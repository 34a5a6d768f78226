"""The demo's sales process: the built-in pipelines hold the simulated deals; the new-business
pipeline asks for what a sales manager would before a deal moves on (an amount from the proposal
on, a close date for negotiation, a reason when lost); approval rules as a small company writes
them (the sales manager above 15% off, the director — the admin login — above 30%, nobody above
50%); quotes on the open deals in proposal and negotiation, some waiting for approval; and a
library of talk tracks."""

import random
from decimal import Decimal

from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.utils import timezone

from clm.commerce.models import Product
from clm.core.models import Role, User
from clm.demo.simulator import demo_password_hash
from clm.sales import quotes
from clm.sales.models import (
    ApprovalRule,
    ForecastCallChange,
    Opportunity,
    PipelineStage,
    Quote,
    TalkTrack,
    TalkTrackUse,
)
from clm.sales.pipelines import install_built_in

REQUIRED = {"proposal": ["amount"], "negotiation": ["expected_close"], "lost": ["lost_reason"]}
TRACKS = [  # title, kind, what to say, stages, industries, roles
    ("ROI 测算：三个月回本", "track", "用客户自己的数据算：每席位每天节省的工时 × 人力成本，对比订阅费用，给出回本周期。",
     ["proposal", "negotiation"], [], ["economic_buyer", "decision_maker"]),
    ("价格异议：拆到每人每天", "objection", "把年费拆成每位员工每天不到一杯咖啡的钱，再对比手工统计的人力与差错成本。",
     ["proposal", "negotiation"], [], ["economic_buyer"]),
    ("同行案例：制造业设备联网", "track", "讲一家同规模制造企业上线设备物联模块后停机时间下降的案例，邀请对方参观。",
     [], ["制造业"], []),
    ("竞品对比：私有化与云版", "objection", "说明云版的升级与运维成本优势；确需私有化时给出买断加维保的总拥有成本对比。",
     ["discovery", "proposal"], [], ["influencer", "decision_maker"]),
    ("试点方案：一个部门先用起来", "track", "建议先在一个部门试点 30 天，约定成功标准（活跃席位、核心功能使用），达标后全面推广。",
     ["qualify", "discovery"], [], []),
    ("续约前的价值回顾", "track", "用效果数据看板回顾过去一年的使用与业务成果，再谈续约与增购。",
     [], [], ["decision_maker", "champion"]),
    ("决策链：找到真正拍板的人", "track", "确认预算归属和审批流程，请内部支持者引荐决策者，安排一次高层对话。",
     ["qualify", "discovery"], [], ["champion", "influencer"]),
    ("预算异议：分期与按季付款", "objection", "在审批范围内提供按季付款或分阶段上线，先解决最急的业务问题。",
     ["negotiation"], [], ["economic_buyer"]),
]
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
    if not TalkTrack.objects.exists():
        _tracks(random.Random(seed))
    if not Opportunity.objects.exclude(forecast_category=Opportunity.ForecastCategory.PIPELINE).exists():
        _forecast_calls(random.Random(seed))
    if Quote.objects.exists():
        return 0
    return _quotes(random.Random(seed), manager)


CALLS = {  # an open deal's stage -> (call, its chance); the rest stay in the pipeline call
    "negotiation": [("commit", 0.7), ("best_case", 0.25)],
    "proposal": [("best_case", 0.5), ("commit", 0.15)],
    "discovery": [("omitted", 0.1)],
    "qualify": [("omitted", 0.15)],
}


def _forecast_calls(rng: random.Random) -> None:
    """The owners' calls on their open deals, as reps make them once deals are under way, each
    recorded as a change from the pipeline call (by the deal's owner, on the day the demo runs)."""
    chosen: dict[str, list[tuple[int, int | None]]] = {}
    for pk, stage, owner in Opportunity.objects.filter(stage__in=list(CALLS)).order_by("pk").values_list("pk", "stage", "owner_id"):
        draw, total = rng.random(), 0.0
        for call, chance in CALLS[stage]:
            total += chance
            if draw < total:
                chosen.setdefault(call, []).append((pk, owner))
                break
    now = timezone.now()
    for call, deals in chosen.items():
        Opportunity.objects.filter(pk__in=[pk for pk, _ in deals]).update(forecast_category=call)
        ForecastCallChange.objects.bulk_create(
            [ForecastCallChange(opportunity_id=pk, from_category="pipeline", to_category=call, changed_at=now,
                                changed_by_id=owner, via="demo") for pk, owner in deals], batch_size=2000)  # fmt: skip


def _tracks(rng: random.Random) -> None:
    """The library, and its use on past deals: each closed deal used one or two tracks that fit its
    stage path, chosen at random — the outcomes are the simulated deals' own, so the ranking shows
    no track effect the world does not have."""
    made = [
        TalkTrack.objects.create(title=title, kind=kind, body=body, stages=stages, industries=industries, personas=roles)
        for title, kind, body, stages, industries, roles in TRACKS
    ]  # fmt: skip
    closed = list(Opportunity.objects.filter(stage__in=Opportunity.CLOSED).values_list("pk", flat=True)[:400])
    TalkTrackUse.objects.bulk_create(
        [TalkTrackUse(track=track, opportunity_id=pk) for pk in closed for track in rng.sample(made, rng.choice((1, 2)))],
        ignore_conflicts=True,
    )


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
