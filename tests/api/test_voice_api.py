"""The customer's voice through the API: a survey created and sent by link (one-time URLs back,
answered through them), the response rate; a feedback form built, a submission refused by field
and then accepted, moved and closed; themes; and who may do what."""

import pytest
from django.test import Client

from clm.customers.models import Account, Contact
from tests.api.conftest import assert_error

pytestmark = pytest.mark.django_db

SURVEY = {"name": "Q4 NPS", "kind": "nps", "question_zh": "您会推荐我们吗？", "question_en": "Would you recommend us?",
          "roles": ["decision_maker"]}


@pytest.fixture
def contact(owner):
    account = Account.objects.create(name="美的集团", sales_owner=owner)
    return Contact.objects.create(account=account, name="李娜", role="decision_maker")


def test_a_survey_is_created_sent_by_link_answered_and_its_rate_reported(api_as, admin_user, owner, contact):
    admin = api_as(admin_user)
    created = admin.post("/surveys", SURVEY)
    assert created.status_code == 201, created.content
    survey = created.json_body
    assert survey["response_rate"] == {"invited": 0, "reached": 0, "answered": 0, "reminded": 0, "rate": None}
    sent = api_as(owner).post(f"/surveys/{survey['id']}/send", {"channel": "link", "contacts": [contact.pk]})
    assert sent.status_code == 201, sent.content
    [invitation] = sent.json_body
    path = invitation["url"].split("testserver", 1)[-1].split("clm.example.com", 1)[-1]
    assert Client().post(path[path.index("/s/"):], {"score": "9"}).status_code == 200
    assert admin.get(f"/surveys/{survey['id']}").json_body["response_rate"]["rate"] == 1.0


def test_bad_surveys_and_unknown_contacts_are_refused_by_field(api_as, admin_user, outsider, contact, team_visibility):
    admin = api_as(admin_user, language="en")
    error = assert_error(admin.post("/surveys", {**SURVEY, "kind": "stars", "roles": ["boss"]}), 422)
    assert {tuple(d["loc"])[-1] for d in error["details"]} >= {"kind"}
    survey = admin.post("/surveys", SURVEY).json_body
    error = assert_error(api_as(outsider, language="en").post(
        f"/surveys/{survey['id']}/send", {"channel": "link", "contacts": [contact.pk]}), 422, "invalid_data")
    assert error["details"][0]["message"] == f"No contact {contact.pk} among those you may see."
    assert_error(api_as(outsider).post("/surveys", SURVEY), 403)


def test_a_feedback_form_takes_a_checked_submission_which_is_closed_with_a_reply(api_as, admin_user):
    admin = api_as(admin_user, language="en")
    form = admin.post("/feedback-forms", {"key": "ideas", "title": "Ideas", "fields": [
        {"name": "category", "label": "Category", "type": "choice", "required": True, "choices": ["bug", "idea"]},
        {"name": "detail", "label": "Detail", "type": "long_text", "required": True}]})
    assert form.status_code == 201, form.content
    assert form.json_body["url"].endswith("/f/ideas/")
    error = assert_error(admin.post("/feedback-forms/ideas/submissions", {"values": {"category": "idea"}}), 422)
    assert [(d["loc"][-1], d["message"]) for d in error["details"]] == [("detail", "“Detail” is required.")]
    item = admin.post("/feedback-forms/ideas/submissions", {"values": {"category": "idea", "detail": "Dark mode"}}).json_body
    assert item["status"] == "new" and item["form"] == "ideas"
    assert admin.get("/feedback", status="new").json_body["count"] == 1
    error = assert_error(admin.post(f"/feedback/{item['id']}/status", {"status": "done"}), 422)
    assert error["details"][0]["loc"][-1] == "reply"
    done = admin.post(f"/feedback/{item['id']}/status", {"status": "done", "reply": "Shipped in 3.2"})
    assert done.status_code == 200 and done.json_body["closed_at"]
    themes = admin.get("/feedback/themes").json_body
    assert themes["total"] == 1 and themes["counts"]["idea"][-1] == 1
