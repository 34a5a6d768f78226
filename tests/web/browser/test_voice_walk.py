"""The customer's voice in Chromium. A customer answers an NPS survey from the link on a phone
(375 px) and on a desktop, in Chinese and in English (the contact's language), by keyboard; the
used link then says so. A visitor fills in the feedback form on a phone, is told beside the field
what is missing, then sends it. A manager reads the results, the inbox, closes the feedback with a
reply, and looks at the themes, in both languages. Screenshots go to tests/artifacts/."""

import pytest
from playwright.sync_api import expect

from clm.customers.models import Account, Contact
from clm.service import feedback, surveys
from clm.service.models import FeedbackSubmission, Survey, SurveyResponse
from tests.conftest import make_user
from tests.web.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1366, "height": 900}


@pytest.fixture
def world(transactional_db):
    from clm.core.roles import sync_role_groups

    sync_role_groups()
    boss = make_user("boss", "Manager", first_name="强", last_name="王")
    account = Account.objects.create(name="美的集团", sales_owner=boss)
    li = Contact.objects.create(account=account, name="李娜", email="li.na@midea.example", role="decision_maker")
    tom = Contact.objects.create(account=account, name="Tom Lee", email="tom@midea.example", role="influencer",
                                 custom={"language": "en"})
    survey = Survey.objects.create(name="Q4 关系型 NPS", kind="nps", question_zh="您有多大可能向同行推荐我们？",
                                   question_en="How likely are you to recommend us to a colleague?")
    invitations = surveys.invite(boss, survey, [li, tom, li, tom], channel="link")
    form = feedback.save_form(boss, {"key": "ideas", "title": "客户建议反馈表", "owner": boss,
                                     "intro": "您的建议会交给对应的产品负责人。", "fields": [
        {"name": "email", "label": "您的邮箱", "type": "email", "required": True},
        {"name": "category", "label": "反馈类别", "type": "choice", "required": True, "choices": ["功能建议", "缺陷"]},
        {"name": "product", "label": "相关产品", "type": "multi_choice", "choices": ["CRM", "BI"]},
        {"name": "detail", "label": "详细描述", "type": "long_text", "required": True}]})
    return {"boss": boss, "survey": survey, "links": [surveys.token_for(i) for i in invitations], "form": form}


def patient(page, size):
    expect.set_options(timeout=60_000)
    page.set_default_timeout(60_000)
    page.set_default_navigation_timeout(90_000)
    page.set_viewport_size(size)


def answer(page, url, score, comment, shot, artifacts):
    page.goto(url)
    expect(page.get_by_test_id("survey-form")).to_be_visible()
    page.screenshot(path=str(artifacts / f"{shot}.png"), full_page=True)
    page.get_by_test_id(f"score-{score}").focus()  # keyboard: focus the score, select it with space
    page.keyboard.press("Space")
    page.get_by_role("textbox").fill(comment)
    page.get_by_test_id("submit").press("Enter")
    expect(page.get_by_test_id("survey-thanks")).to_be_visible()


def test_customers_answer_surveys_and_send_feedback_on_phones_and_desktops(page, live_server, world, artifacts):
    base = live_server.url
    zh_phone, en_phone, zh_desk, en_desk = (f"{base}/s/{t}/" for t in world["links"])
    patient(page, PHONE)
    answer(page, zh_phone, 3, "实施太慢", "voice-survey-phone-zh", artifacts)
    expect(page.get_by_test_id("survey-thanks")).to_contain_text("谢谢您")
    page.goto(zh_phone)
    expect(page.get_by_test_id("survey-closed")).to_contain_text("您已经回答过了")
    page.screenshot(path=str(artifacts / "voice-survey-used-phone-zh.png"), full_page=True)
    answer(page, en_phone, 10, "Great support", "voice-survey-phone-en", artifacts)
    expect(page.get_by_test_id("survey-thanks")).to_contain_text("Thank you")
    # no sideways scrolling on a phone
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.set_viewport_size(DESKTOP)
    answer(page, zh_desk, 8, "", "voice-survey-desktop-zh", artifacts)
    page.goto(en_desk)
    page.get_by_test_id("submit").click()  # no score chosen
    expect(page.get_by_test_id("error-score")).to_contain_text("Choose a score from 0 to 10.")
    page.screenshot(path=str(artifacts / "voice-survey-refused-desktop-en.png"), full_page=True)
    assert sorted(SurveyResponse.objects.values_list("score", flat=True)) == [3, 8, 10]

    page.set_viewport_size(PHONE)
    page.goto(f"{base}/f/ideas/")
    page.get_by_label("您的邮箱").fill("li.na@midea.example")
    page.get_by_label("功能建议").check()
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("error-detail")).to_contain_text("“详细描述”为必填项。")
    expect(page.get_by_label("您的邮箱")).to_have_value("li.na@midea.example")
    page.screenshot(path=str(artifacts / "voice-form-refused-phone-zh.png"), full_page=True)
    page.get_by_label("详细描述").fill("希望支持钉钉扫码登录")
    page.get_by_label("BI").check()
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("form-thanks")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=str(artifacts / "voice-form-sent-phone-zh.png"), full_page=True)
    item = FeedbackSubmission.objects.get()
    assert item.values["product"] == ["BI"] and item.account.name == "美的集团"


def test_a_manager_reads_results_works_the_inbox_and_sees_themes(page, live_server, world, artifacts):
    for token, score in zip(world["links"][:3], (3, 10, 9), strict=True):
        surveys.answer(token, score, "实施太慢" if score == 3 else "")
    feedback.submit(world["form"], {"email": "li.na@midea.example", "category": "缺陷", "detail": "导出乱码"})
    sign_in(page, live_server.url, "boss")
    page.get_by_test_id("nav-voice").click()
    page.get_by_role("link", name="Q4 关系型 NPS").click()
    expect(page.get_by_test_id("headline")).to_have_text("33")  # (2 − 1) / 3
    expect(page.get_by_test_id("rate")).to_contain_text("75%")
    expect(page.locator("#voice-chart")).to_have_attribute("data-points", "11")
    page.screenshot(path=str(artifacts / "voice-results-zh.png"), full_page=True)
    page.get_by_role("link", name="反馈收件箱").click()
    page.get_by_test_id("inbox-row").first.get_by_role("link").first.click()
    page.get_by_label("状态").select_option("done")
    page.get_by_test_id("save-status").click()
    expect(page.get_by_test_id("error-reply")).to_contain_text("请填写关闭时发给客户的回复")
    page.get_by_label("给客户的回复（标记为已完成或不予采纳时通过邮件发送）").fill("已在 3.2 版修复，感谢您。")
    page.get_by_test_id("save-status").click()
    expect(page.get_by_test_id("status")).to_have_text("已完成")
    page.screenshot(path=str(artifacts / "voice-feedback-closed-zh.png"), full_page=True)
    page.get_by_role("link", name="反馈主题").click()
    expect(page.locator("#voice-chart")).to_have_attribute("data-points", "12")
    page.screenshot(path=str(artifacts / "voice-themes-zh.png"), full_page=True)
    page.get_by_role("link", name="反馈表单").first.click()
    page.get_by_role("link", name="客户建议反馈表").click()
    page.screenshot(path=str(artifacts / "voice-builder-zh.png"), full_page=True)
    page.get_by_test_id("language").select_option("en")
    expect(page.get_by_role("heading", name="Routing rules")).to_be_visible()
    page.screenshot(path=str(artifacts / "voice-builder-en.png"), full_page=True)
    page.get_by_role("link", name="Surveys").first.click()
    page.get_by_role("link", name="Q4 关系型 NPS").click()
    expect(page.get_by_test_id("rate")).to_contain_text("75%")
    page.screenshot(path=str(artifacts / "voice-results-en.png"), full_page=True)
