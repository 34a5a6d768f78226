"""The customer's-voice pages: surveys (list, form, results with a table view, sending by link),
the feedback inbox with statuses and the reply form, the form builder with its rules, themes;
and the public pages a customer reaches by link — in the contact's language, with clear pages
for links that cannot be used, and refusals beside the field with nothing stored."""

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from clm.customers.models import Account, Contact
from clm.service import feedback, surveys
from clm.service.models import FeedbackForm, FeedbackSubmission, Survey, SurveyInvitation, SurveyResponse
from tests.web.test_channel_pages import visible_text

pytestmark = pytest.mark.django_db
SNAKE = re.compile(r"\b[a-z]+_[a-z_]+\b")


@pytest.fixture
def chain(manager):
    account = Account.objects.create(name="美的集团", sales_owner=manager)
    return [Contact.objects.create(account=account, name="李娜", role="decision_maker"),
            Contact.objects.create(account=account, name="Tom", role="influencer", custom={"language": "en"})]


@pytest.fixture
def form(manager):
    return feedback.save_form(manager, {"key": "ideas", "title": "产品建议", "owner": manager, "fields": [
        {"name": "email", "label": "邮箱", "type": "email", "required": True},
        {"name": "category", "label": "类别", "type": "choice", "required": True, "choices": ["功能建议", "缺陷"]},
        {"name": "detail", "label": "详细描述", "type": "long_text", "required": True}]})


def test_a_manager_defines_a_survey_sends_links_and_reads_the_results(as_manager, manager, chain):
    response = as_manager.post(reverse("web:survey_new"), {
        "name": "Q4 关系型 NPS", "kind": "nps", "purpose": "relationship", "question_zh": "您会推荐我们吗？",
        "question_en": "Would you recommend us?", "roles": ["decision_maker", "influencer"], "valid_days": 14,
        "reminder_days": 3, "active": "on"})
    survey = Survey.objects.get()
    assert response.status_code == 302 and survey.roles == ["decision_maker", "influencer"]
    page = as_manager.post(reverse("web:survey", args=[survey.pk]), {"channel": "link", "account": chain[0].account_id})
    links = re.findall(r'data-testid="survey-link">([^<]+)<', page.content.decode())
    assert len(links) == 2 and SurveyInvitation.objects.count() == 2
    for invitation, score in zip(SurveyInvitation.objects.order_by("pk"), (9, 4), strict=True):
        surveys.answer(surveys.token_for(invitation), score, "不错" if score == 9 else "")
    html = as_manager.get(reverse("web:survey", args=[survey.pk])).content.decode()
    assert re.search(r'data-testid="headline">0<', html)  # 1 promoter, 1 detractor: 50% − 50%
    assert "100%" in html and "不错" in html
    text = visible_text(html)
    assert not SNAKE.search(text), SNAKE.findall(text)
    listing = visible_text(as_manager.get(reverse("web:surveys")).content.decode())
    assert "Q4 关系型 NPS" in listing and "100%" in listing and not SNAKE.search(listing)
    manager.language = "en"
    manager.save()
    english = visible_text(as_manager.get(reverse("web:survey", args=[survey.pk])).content.decode())
    assert "Answers by score" in english and "Response rate" in english


def test_the_inbox_filters_by_status_and_closing_needs_a_reply_beside_the_field(as_manager, form):
    items = [feedback.submit(form, {"email": "a@x.example", "category": c, "detail": d})
             for c, d in [("缺陷", "导出乱码"), ("功能建议", "钉钉登录"), ("功能建议", "暗色模式")]]
    FeedbackSubmission.objects.filter(pk=items[0].pk).update(due_at=timezone.now() - dt.timedelta(days=1))
    FeedbackSubmission.objects.filter(pk=items[2].pk).update(status="planned")
    html = as_manager.get(reverse("web:feedback")).content.decode()
    assert html.count('data-testid="inbox-row"') == 3 and "已逾期" in html
    planned = as_manager.get(reverse("web:feedback"), {"status": "planned"}).content.decode()
    assert planned.count('data-testid="inbox-row"') == 1 and "已排期 (1)" in planned
    overdue = as_manager.get(reverse("web:feedback"), {"overdue": "1"}).content.decode()
    assert overdue.count('data-testid="inbox-row"') == 1
    page = as_manager.post(reverse("web:feedback_item", args=[items[0].pk]), {"status": "done", "reply": ""})
    assert page.status_code == 200 and "请填写关闭时发给客户的回复。" in page.content.decode()
    assert FeedbackSubmission.objects.get(pk=items[0].pk).status == "new"
    done = as_manager.post(reverse("web:feedback_item", args=[items[0].pk]), {"status": "done", "reply": "已修复"})
    assert done.status_code == 302 and FeedbackSubmission.objects.get(pk=items[0].pk).status == "done"
    text = visible_text(as_manager.get(reverse("web:feedback_item", args=[items[0].pk])).content.decode())
    assert "已完成" in text and not SNAKE.search(text)


def test_the_builder_keeps_what_was_typed_and_names_the_bad_row(as_manager, manager):
    base = {"title": "服务反馈", "key": "service", "audience": "public", "sla_days": "5", "owner": manager.pk,
            "active": "on"}
    rows = {"field-0-name": "topic", "field-0-label": "主题", "field-0-type": "choice", "field-0-choices": "",
            "field-1-name": "detail", "field-1-label": "内容", "field-1-type": "long_text", "field-1-required": "on"}
    page = as_manager.post(reverse("web:feedback_form_new"), {**base, **rows})
    html = page.content.decode()
    assert page.status_code == 200 and FeedbackForm.objects.count() == 0
    assert 'data-testid="error-field-0"' in html and "选择题字段需要填写选项。" in html
    assert 'value="服务反馈"' in html and 'value="内容"' in html
    rows["field-0-choices"] = "实施\n培训"
    saved = as_manager.post(reverse("web:feedback_form_new"), {**base, **rows})
    form = FeedbackForm.objects.get()
    assert saved.status_code == 302 and form.fields[0]["choices"] == ["实施", "培训"] and form.fields[1]["required"]
    as_manager.post(reverse("web:feedback_rule_add", args=[form.pk]), {"category": "", "keyword": "培训", "owner": manager.pk})
    assert form.rules.get().keyword == "培训"
    builder = as_manager.get(reverse("web:feedback_form", args=[form.pk])).content.decode()
    assert "/f/service/" in builder and "培训" in builder


def test_themes_show_counts_by_category_with_a_table(as_manager, form):
    for category in ("缺陷", "缺陷", "功能建议"):
        feedback.submit(form, {"email": "a@x.example", "category": category, "detail": "d"})
    html = as_manager.get(reverse("web:feedback_themes")).content.decode()
    assert "近 12 个月共 3 条反馈" in html and 'id="voice-data"' in html
    row = re.search(r"<tr><td>缺陷</td>(.*?)</tr>", html, re.S).group(1)
    assert row.endswith("<strong>2</strong></td>")


def test_a_survey_link_speaks_the_contacts_language_and_refuses_clearly(client, chain, manager):
    survey = Survey.objects.create(name="CSAT", kind="csat", question_zh="满意吗？", question_en="Are you satisfied?")
    english, chinese = surveys.invite(manager, survey, [chain[1], chain[0]], channel="link")
    path = reverse("web:survey_answer", args=[surveys.token_for(english)])
    page = client.get(path).content.decode()
    assert "Are you satisfied?" in page and 'lang="en"' in page and "very satisfied" in page
    refused = client.post(path, {"score": "9", "comment": "keep me"})
    assert refused.status_code == 422 and "Choose a score from 1 to 5." in refused.content.decode()
    assert "keep me" in refused.content.decode() and SurveyResponse.objects.count() == 0
    SurveyInvitation.objects.filter(pk=english.pk).update(expires_at=timezone.now())
    expired = client.get(path)
    assert expired.status_code == 410 and "This survey link has expired" in expired.content.decode()
    assert client.post(path, {"score": "5"}).status_code == 410 and SurveyResponse.objects.count() == 0
    unknown = client.get(reverse("web:survey_answer", args=["x" * 43]))
    assert unknown.status_code == 404 and "此链接无法使用" in unknown.content.decode()
    chinese_page = client.get(reverse("web:survey_answer", args=[surveys.token_for(chinese)])).content.decode()
    assert "满意吗？" in chinese_page and "非常满意" in chinese_page


def test_the_public_form_names_the_missing_field_keeps_the_rest_and_stores_nothing(client, form):
    url = reverse("web:feedback_public", args=["ideas"])
    page = client.post(url, {"email": "li@x.example", "category": "缺陷"})
    html = page.content.decode()
    assert page.status_code == 422 and "“详细描述”为必填项。" in html and 'value="li@x.example"' in html
    assert FeedbackSubmission.objects.count() == 0
    assert client.post(url, {"email": "li@x.example", "category": "缺陷", "detail": "导出乱码"}).status_code == 200
    assert FeedbackSubmission.objects.get().values["detail"] == "导出乱码"
    embedded = client.get(url, {"embed": "1"})
    assert "X-Frame-Options" not in embedded and 'data-testid="company"' not in embedded.content.decode()


def test_a_signed_in_form_sends_visitors_to_sign_in_and_a_closed_one_says_so(client, form):
    FeedbackForm.objects.filter(pk=form.pk).update(audience="signed_in")
    response = client.get(reverse("web:feedback_public", args=["ideas"]))
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    FeedbackForm.objects.filter(pk=form.pk).update(active=False)
    closed = client.get(reverse("web:feedback_public", args=["ideas"]))
    assert closed.status_code == 410 and "此表单已关闭" in closed.content.decode()


@pytest.mark.parametrize("model", ["service/survey", "service/feedbackform", "service/feedbacksubmission",
                                   "commerce/coupon", "value/tierbenefit"])
def test_the_new_records_are_listed_in_the_admin(client, admin_user, form, model):
    client.force_login(admin_user)
    assert client.get(f"/admin/{model}/").status_code == 200
