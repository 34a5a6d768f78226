"""Feedback forms: the builder's field definitions checked as data, submissions checked against
the form (each problem named by its field's label, nothing stored), routing by rules (category,
product, keyword; first match wins; otherwise the form's owner) with the SLA, statuses, themes
counted by category and month (hand-counted), record visibility, and the feedback-to-product play."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from clm.automation.models import Case
from clm.automation.playbooks import services as playbooks
from clm.customers.models import Account, Contact
from clm.service import feedback
from clm.service.models import FeedbackRule, FeedbackSubmission

pytestmark = pytest.mark.django_db

FIELDS = [
    {"name": "email", "label": "邮箱", "type": "email", "required": True},
    {"name": "category", "label": "类别", "type": "choice", "required": True, "choices": ["功能建议", "缺陷", "服务"]},
    {"name": "product", "label": "产品", "type": "choice", "required": False, "choices": ["CRM", "BI"]},
    {"name": "channels", "label": "使用渠道", "type": "multi_choice", "required": False, "choices": ["网页", "App"]},
    {"name": "seats", "label": "使用人数", "type": "number", "required": False},
    {"name": "detail", "label": "详细描述", "type": "long_text", "required": True},
]


@pytest.fixture
def form(admin_user, owner):
    return feedback.save_form(admin_user, {"key": "product-ideas", "title": "产品建议", "fields": FIELDS,
                                           "sla_days": 7, "owner": owner})


def test_the_builder_names_each_bad_field_definition(admin_user):
    bad = [
        {"name": "Topic", "label": "主题", "type": "text"},
        {"name": "area", "label": "", "type": "choice", "choices": []},
        {"name": "area", "label": "区域", "type": "colour"},
    ]
    with pytest.raises(ValidationError) as caught:
        feedback.save_form(admin_user, {"key": "x", "title": "X", "fields": bad})
    problems = caught.value.message_dict
    assert set(problems) == {"fields.0.name", "fields.1.label", "fields.1.choices", "fields.2.name", "fields.2.type"}
    with pytest.raises(ValidationError) as caught:
        feedback.save_form(admin_user, {"key": "x", "title": "X", "fields": []})
    assert "fields" in caught.value.message_dict


def test_a_submission_missing_a_required_field_is_refused_by_name_and_stores_nothing(form):
    # in the workspace's language (Chinese)
    with pytest.raises(ValidationError) as caught:
        feedback.submit(form, {"email": "not-an-address", "category": "别的", "seats": "many", "channels": ["网页", "传真"]})
    assert caught.value.message_dict == {
        "email": ["“邮箱”不是有效的邮箱地址。"],
        "category": ["“类别”：请选择其中一个选项。"],
        "channels": ["“使用渠道”：请在选项中选择。"],
        "seats": ["“使用人数”必须是数字。"],
        "detail": ["“详细描述”为必填项。"],
    }
    assert FeedbackSubmission.objects.count() == 0


def test_rules_route_by_category_product_and_keyword_in_order_with_their_sla(form, owner, csm, team_a):
    FeedbackRule.objects.create(form=form, position=0, category="缺陷", product="BI", team=team_a, sla_days=2)
    FeedbackRule.objects.create(form=None, position=1, keyword="钉钉", owner=csm)
    before = timezone.now()
    bi_bug = feedback.submit(form, {"email": "a@x.example", "category": "缺陷", "product": "BI", "detail": "报表导出乱码"})
    dingtalk = feedback.submit(form, {"email": "a@x.example", "category": "功能建议", "detail": "希望支持钉钉登录"})
    other = feedback.submit(form, {"email": "a@x.example", "category": "服务", "detail": "响应慢", "seats": "1,200"})
    assert (bi_bug.team, bi_bug.owner) == (team_a, None)
    assert dt.timedelta(days=2) <= bi_bug.due_at - before < dt.timedelta(days=2, minutes=1)
    assert (dingtalk.owner, dingtalk.rule.keyword) == (csm, "钉钉")
    assert (other.owner, other.rule, other.values["seats"]) == (owner, None, 1200)  # the form's owner, its 7 days
    assert dt.timedelta(days=7) <= other.due_at - before < dt.timedelta(days=7, minutes=1)


def test_a_submission_from_a_known_address_belongs_to_its_account_and_enrolls_the_feedback_play(
    form, admin_user, csm, django_capture_on_commit_callbacks
):
    account = Account.objects.create(name="美的集团", csm=csm)
    Contact.objects.create(account=account, name="李娜", email="li.na@midea.example")
    with django_capture_on_commit_callbacks(execute=True):  # the playbooks' cache hears of it on commit
        playbooks.enable_template("feedback-to-product", actor=admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        item = feedback.submit(form, {"email": "LI.NA@midea.example", "category": "功能建议", "detail": "批量导入"})
    assert item.account == account and item.contact.name == "李娜"
    case = Case.objects.get(account=account)
    assert case.type == "feedback" and case.owner == csm


def test_closing_needs_a_reply_and_reopening_clears_it(form, admin_user):
    item = feedback.submit(form, {"email": "a@x.example", "category": "服务", "detail": "d"})
    with pytest.raises(ValidationError) as caught:
        feedback.set_status(admin_user, item, "done")
    assert "reply" in caught.value.message_dict
    with pytest.raises(ValidationError):
        feedback.set_status(admin_user, item, "finished")
    item = feedback.set_status(admin_user, item, "done", reply="已上线")
    assert item.closed_at and item.status == "done"
    item = feedback.set_status(admin_user, item, "acknowledged")
    assert item.closed_at is None and item.status == "acknowledged"


def test_restricted_users_see_feedback_of_their_accounts_and_what_is_routed_to_them(
    form, owner, outsider, team_visibility
):
    mine = Account.objects.create(name="Ours", sales_owner=owner)
    Contact.objects.create(account=mine, name="A", email="a@ours.example")
    ours = feedback.submit(form, {"email": "a@ours.example", "category": "服务", "detail": "d"})
    stranger = feedback.submit(form, {"email": "b@nowhere.example", "category": "服务", "detail": "d"})
    routed = FeedbackRule.objects.create(form=form, keyword="outsider", owner=outsider)
    theirs = feedback.submit(form, {"email": "b@nowhere.example", "category": "服务", "detail": "for outsider"})
    assert theirs.rule == routed
    assert set(feedback.inbox(owner)) == {ours, stranger}  # the form's owner is `owner`
    assert set(feedback.inbox(outsider)) == {theirs}
    with pytest.raises(PermissionDenied):
        feedback.set_status(outsider, ours, "acknowledged")


def test_themes_count_submissions_by_category_and_month(form, admin_user):
    now = timezone.now()
    for category, days_ago in [("缺陷", 0), ("缺陷", 0), ("功能建议", 0), ("缺陷", 40), ("服务", 400)]:
        item = feedback.submit(form, {"email": "a@x.example", "category": category, "detail": "d"})
        FeedbackSubmission.objects.filter(pk=item.pk).update(created_at=now - dt.timedelta(days=days_ago))
    counted = feedback.themes(admin_user, now=now)
    assert len(counted["months"]) == 12 and counted["months"][-1] == timezone.localdate(now).replace(day=1)
    # by hand: 缺陷 2 this month + 1 some 40 days ago; 功能建议 1; 服务 400 days ago is outside
    assert counted["total"] == 4 and counted["categories"] == ["缺陷", "功能建议"]
    assert counted["counts"]["缺陷"][-1] == 2 and sum(counted["counts"]["缺陷"]) == 3
    assert counted["counts"]["功能建议"] == [0] * 11 + [1]
