"""The demo company's customer voice: three surveys (a relationship NPS to the decision chain, a
CSAT after tickets close, a CES on implementation), whose invitations are the simulated customers'
own answers of the last 120 days (each answer becomes an answered invitation; contacts of the same
accounts who did not answer get an open, partly reminded one), and two feedback forms with their
routing rules and a year of submissions in every status, the older ones closed with a reply.

Nothing here changes what the simulated customers do: the answers are the simulator's, and the
feedback is drawn after the fact. Written in bulk, deterministic for a given database."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

import numpy as np
from django.utils import timezone

from clm.core.models import Team, User
from clm.customers.models import Contact
from clm.service import surveys
from clm.service.feedback_models import FeedbackForm, FeedbackRule, FeedbackSubmission
from clm.service.models import Survey, SurveyInvitation, SurveyResponse

WINDOW_DAYS = 120
SURVEYS = [
    {"name": "年度关系型 NPS", "kind": "nps", "purpose": "relationship",
     "question_zh": "您有多大可能向同行推荐云帆？", "question_en": "How likely are you to recommend Yunfan to a colleague?",
     "roles": ["decision_maker", "economic_buyer", "influencer", "champion"]},
    {"name": "工单关闭后满意度", "kind": "csat", "purpose": "transactional",
     "question_zh": "您对这次服务满意吗？", "question_en": "How satisfied are you with the support you received?",
     "roles": []},
]
CATEGORIES = ["功能建议", "缺陷", "易用性", "服务", "价格"]
PRODUCTS = ["云帆 CRM", "云帆 BI", "云帆 营销云"]
DETAILS = {
    "功能建议": ["希望支持钉钉扫码登录", "报表能否按省份钻取", "希望导出 Excel 时保留筛选条件", "能否增加企业微信消息提醒"],
    "缺陷": ["导出 CSV 时中文乱码", "仪表盘偶尔加载很慢", "批量导入时日期格式报错", "移动端无法上传附件"],
    "易用性": ["菜单层级太深，找不到设置", "新员工上手需要很久", "筛选条件不能保存"],
    "服务": ["工单响应超过一天", "客户成功经理换了三次", "培训资料不够详细"],
    "价格": ["续费涨价幅度太大", "希望按席位灵活计费"],
}
REPLIES = {
    "done": "感谢您的建议，该功能已在最新版本上线，欢迎体验。",
    "declined": "感谢您的反馈。经评估，这项需求暂不在今年的规划中，我们会持续关注。",
}


def build(as_of: dt.date) -> dict:
    """The surveys, invitations, forms and submissions; returns what it wrote."""
    rng = np.random.default_rng(int(hashlib.sha256(f"feedback:{as_of}".encode()).hexdigest()[:8], 16))
    now = timezone.make_aware(dt.datetime.combine(as_of, dt.time(18)))
    made = {s["name"]: Survey.objects.get_or_create(name=s["name"], defaults=s)[0] for s in SURVEYS}
    invitations = _invitations(made, rng, now)
    forms = _forms()
    submissions = _submissions(forms, rng, now)
    return {"surveys": len(made), "invitations": invitations, "forms": len(forms), "submissions": submissions}


def _invitation(survey, account_id, contact_id, at, channel="email") -> SurveyInvitation:
    invitation = SurveyInvitation(survey=survey, account_id=account_id, contact_id=contact_id, channel=channel,
                                  salt=secrets.token_hex(16), created_at=at, sent_at=at,
                                  expires_at=at + dt.timedelta(days=survey.valid_days))
    invitation.token_hash = surveys.hash_token(surveys.token_for(invitation))
    return invitation


def _invitations(made: dict, rng, now) -> int:
    if SurveyInvitation.objects.exists():
        return 0
    since = now - dt.timedelta(days=WINDOW_DAYS)
    answers = list(SurveyResponse.objects.filter(responded_at__gte=since, survey=None, kind__in=("nps", "csat"))
                   .exclude(contact=None).values_list("pk", "account_id", "contact_id", "kind", "responded_at"))
    by_kind = {"nps": made["年度关系型 NPS"], "csat": made["工单关闭后满意度"]}
    rows, linked = [], []
    for pk, account_id, contact_id, kind, at in answers:
        invitation = _invitation(by_kind[kind], account_id, contact_id, at - dt.timedelta(days=int(rng.integers(0, 4))))
        invitation.answered_at, invitation.response_id = at, pk
        rows.append(invitation)
        linked.append((pk, by_kind[kind].pk))
    asked = {a for _pk, a, _c, kind, _at in answers if kind == "nps"}
    answered = {c for _pk, _a, c, _k, _at in answers}
    nps = made["年度关系型 NPS"]
    silent = Contact.objects.filter(account_id__in=asked, role__in=nps.roles, status=Contact.Status.ACTIVE).exclude(
        pk__in=answered).values_list("pk", "account_id")
    for contact_id, account_id in silent:
        at = now - dt.timedelta(days=int(rng.integers(1, WINDOW_DAYS)))
        invitation = _invitation(nps, account_id, contact_id, at)
        if (now - at).days > nps.reminder_days and rng.random() < 0.8:
            invitation.reminded_at = at + dt.timedelta(days=nps.reminder_days)
        rows.append(invitation)
    SurveyInvitation.objects.bulk_create(rows, batch_size=1000)
    for survey_id in {s for _pk, s in linked}:
        SurveyResponse.objects.filter(pk__in=[pk for pk, s in linked if s == survey_id]).update(survey_id=survey_id)
    return len(rows)


def _forms() -> list[FeedbackForm]:
    if FeedbackForm.objects.exists():
        return list(FeedbackForm.objects.all())
    # the marketer looks after product feedback; a company too small to have one: the admin
    product_owner = (
        User.objects.filter(username="marketing01").first() or User.objects.filter(username="admin").first()
    )
    fields = [
        {"name": "email", "label": "您的邮箱", "type": "email", "required": True, "choices": []},
        {"name": "category", "label": "反馈类别", "type": "choice", "required": True, "choices": CATEGORIES},
        {"name": "product", "label": "相关产品", "type": "choice", "required": False, "choices": PRODUCTS},
        {"name": "detail", "label": "详细描述", "type": "long_text", "required": True, "choices": []},
        {"name": "users", "label": "受影响的用户数", "type": "number", "required": False, "choices": []},
    ]
    ideas = FeedbackForm.objects.create(
        key="product-feedback", title="客户建议反馈表", intro="您的每一条建议都会交给对应的产品或研发负责人，处理后我们会邮件告诉您结果。",
        fields=fields, sla_days=7, owner=product_owner)
    service = FeedbackForm.objects.create(
        key="service-feedback", title="服务评价", audience=FeedbackForm.Audience.SIGNED_IN, sla_days=3, owner=product_owner,
        fields=[fields[0], {**fields[1], "choices": ["服务", "培训", "实施"]},
                {"name": "detail", "label": "您的意见", "type": "long_text", "required": True, "choices": []}])
    csm_team = Team.objects.filter(members__groups__name="CSM").order_by("name").first()
    rules = [FeedbackRule(form=ideas, position=0, category="缺陷", owner=product_owner, sla_days=3),
             FeedbackRule(form=ideas, position=1, keyword="钉钉", owner=product_owner)] if product_owner else []
    if csm_team is not None:
        rules.append(FeedbackRule(form=None, position=2, category="服务", team=csm_team, sla_days=2))
    FeedbackRule.objects.bulk_create(rules)
    return [ideas, service]


def _submissions(forms: list[FeedbackForm], rng, now) -> int:
    if FeedbackSubmission.objects.exists():
        return 0
    ideas = forms[0]
    rules = list(FeedbackRule.objects.order_by("position", "pk"))
    contacts = list(Contact.objects.exclude(email="").filter(status=Contact.Status.ACTIVE)
                    .order_by("pk").values_list("pk", "account_id", "email")[:2000])
    if not contacts:
        return 0
    from clm.service.feedback import route

    rows = []
    for _ in range(90):
        contact_id, account_id, email = contacts[int(rng.integers(len(contacts)))]
        category = CATEGORIES[int(rng.choice(len(CATEGORIES), p=[0.35, 0.25, 0.15, 0.15, 0.10]))]
        values = {"email": email, "category": category, "product": PRODUCTS[int(rng.integers(len(PRODUCTS)))],
                  "detail": DETAILS[category][int(rng.integers(len(DETAILS[category])))]}
        age = int(rng.integers(0, 365))
        at = now - dt.timedelta(days=age, hours=int(rng.integers(0, 10)))
        rule = route(ideas, values, rules)
        due = at + dt.timedelta(days=rule.sla_days if rule and rule.sla_days is not None else ideas.sla_days)
        status = _status(age, rng)
        closed = status in FeedbackSubmission.CLOSED
        closed_at = min(due + dt.timedelta(days=int(rng.integers(-2, 4))), now) if closed else None
        rows.append(FeedbackSubmission(
            form=ideas, values=values, category=category, product=values["product"], account_id=account_id,
            contact_id=contact_id, email=email, language="zh-hans", status=status, created_at=at,
            owner_id=rule.owner_id if rule else ideas.owner_id, team_id=rule.team_id if rule else None, rule=rule,
            due_at=due, reply=REPLIES.get(status, ""), closed_at=closed_at, replied_at=closed_at))
    FeedbackSubmission.objects.bulk_create(rows)
    return len(rows)


def _status(age_days: int, rng) -> str:
    if age_days < 7:
        return str(rng.choice(["new", "new", "acknowledged"]))
    if age_days < 45:
        return str(rng.choice(["acknowledged", "planned", "new", "done"]))
    return str(rng.choice(["done", "done", "declined", "planned"]))
