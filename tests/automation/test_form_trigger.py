"""The form submitted trigger end to end: POST /forms/submissions → form.submitted → enrollment of the
sender → the playbook's step (a task); field filters; bad input answered by field, nothing written."""

import pytest

from clm.automation.models import Enrollment, StepRun, Task
from clm.core.models import AuditLog
from clm.customers.models import Account, Contact
from clm.sales.models import FormSubmission, Lead
from tests.api.conftest import ApiClient, assert_error
from tests.automation.conftest import playbook_doc

pytestmark = pytest.mark.django_db(transaction=True)

FOLLOW_UP = [
    {
        "id": "call",
        "type": "create_task",
        "title": {"zh": "回访网络研讨会报名", "en": "Call back the webinar sign-up"},
        "assignee": "sales_owner",
        "due_days": 2,
    }
]


@pytest.fixture
def webinar(save):
    return save(
        playbook_doc(
            "webinar-follow-up",
            trigger={"type": "form_submitted", "form": "webinar-signup", "fields": {"topic": "renewal"}},
            steps=FOLLOW_UP,
        )
    )


@pytest.fixture
def sender(owner):
    account = Account.objects.create(name="Acme", sales_owner=owner)
    return Contact.objects.create(
        account=account, name="Li Lei", email="li.lei@acme.example", external_id="C-1"
    )


def test_a_submission_enrolls_its_sender_and_the_step_runs(webinar, sender, admin_user, owner):
    api = ApiClient(admin_user)
    answer = api.post(
        "/forms/submissions",
        {
            "form": "webinar-signup",
            "email": "LI.LEI@acme.example",
            "fields": {"topic": "renewal", "seats": 30},
        },
    )
    assert answer.status_code == 201, answer.content
    body = answer.json_body
    assert (body["contact"], body["account"], body["lead"]) == (sender.pk, sender.account_id, None)

    (enrollment,) = Enrollment.objects.filter(playbook=webinar)
    assert (enrollment.account_id, enrollment.contact_id) == (sender.account_id, sender.pk)
    assert enrollment.trigger == {
        "type": "form_submitted",
        "form": "webinar-signup",
        "submission_id": body["id"],
    }
    (run,) = StepRun.objects.filter(enrollment=enrollment)
    assert run.status == "done"
    task = Task.objects.get(pk=run.result["task_id"])
    assert (task.title, task.assignee, task.account_id) == ("回访网络研讨会报名", owner, sender.account_id)
    assert AuditLog.objects.filter(model="sales.formsubmission", via="api", action="create").count() == 1


def test_field_filters_and_the_form_key_decide_who_enrolls(webinar, sender, admin_user):
    api = ApiClient(admin_user)
    for form, fields in (("webinar-signup", {"topic": "pricing"}), ("newsletter", {"topic": "renewal"})):
        assert (
            api.post(
                "/forms/submissions", {"form": form, "contact_external_id": "C-1", "fields": fields}
            ).status_code
            == 201
        )
    assert FormSubmission.objects.count() == 2
    assert not Enrollment.objects.exists() and not Task.objects.exists()


def test_a_lead_is_found_by_external_id_and_enrolled_without_an_account(save, admin_user):
    wait = [{"id": "w", "type": "wait", "days": 7}]
    playbook = save(
        playbook_doc("demo-request", trigger={"type": "form_submitted", "form": "demo-request"}, steps=wait)
    )
    lead = Lead.objects.create(name="王芳", company="新客户", email="wang@new.example", external_id="L-9")
    answer = ApiClient(admin_user).post(
        "/forms/submissions", {"form": "demo-request", "lead_external_id": "L-9"}
    )
    assert answer.status_code == 201, answer.content
    (enrollment,) = Enrollment.objects.filter(playbook=playbook)
    assert (enrollment.lead_id, enrollment.account_id) == (lead.pk, None)
    run = StepRun.objects.get(enrollment=enrollment)
    assert (run.step_id, run.status) == ("w", "pending")  # the wait ends in 7 days


@pytest.mark.parametrize(
    ("body", "loc", "message"),
    [
        (
            {"form": "x", "email": "nobody@nowhere.example"},
            "email",
            "No contact or lead has the email nobody@nowhere.example.",
        ),
        ({"form": "x"}, "email", "Give the sender's email, contact_external_id or lead_external_id."),
        (
            {"form": "x", "contact_external_id": "C-404"},
            "contact_external_id",
            "No contact has the external id C-404.",
        ),
        (
            {"form": "x", "email": "li.lei@acme.example", "fields": [1, 2]},
            "fields",
            "Expected an object of {field name: value}.",
        ),
        (
            {"form": "x", "email": "li.lei@acme.example", "fields": {"a": {"nested": 1}}},
            "fields",
            "Field a: expected text, a number, true/false or null.",
        ),
        (
            {"form": "x", "email": "li.lei@acme.example", "fields": {f"f{i}": i for i in range(101)}},
            "fields",
            "At most 100 fields.",
        ),
        (
            {"form": "x", "email": "li.lei@acme.example", "fields": {"note": "长" * 5001}},
            "fields",
            "Field note: at most 5000 characters.",
        ),
        ({"form": "   ", "email": "li.lei@acme.example"}, "form", "The form's key is required."),
    ],
)
def test_bad_input_is_refused_by_field_and_nothing_is_written(
    webinar, sender, admin_user, body, loc, message
):
    answer = ApiClient(admin_user).post("/forms/submissions", body, headers={"Accept-Language": "en"})
    error = assert_error(answer, 422, "invalid_data")
    assert {"loc": [loc], "message": message} in error["details"]
    assert not FormSubmission.objects.exists() and not Enrollment.objects.exists()


def test_a_refusal_reads_in_chinese_for_a_chinese_request(sender, admin_user):
    answer = ApiClient(admin_user).post(
        "/forms/submissions",
        {"form": "x", "email": "nobody@nowhere.example"},
        headers={"Accept-Language": "zh-hans"},
    )
    error = assert_error(answer, 422, "invalid_data")
    assert error["details"] == [
        {"loc": ["email"], "message": "没有联系人或线索的邮箱是 nobody@nowhere.example。"}
    ]


def test_json_beyond_the_bounds_is_refused_before_it_is_read(sender, admin_user):
    deep = {"a": 1}
    for _ in range(10):
        deep = {"a": deep}
    error = assert_error(
        ApiClient(admin_user).post(
            "/forms/submissions", {"form": "x", "email": "li.lei@acme.example", "fields": deep}
        ),
        422,
        "invalid_request",
    )
    assert "nested too deeply" in error["details"][0]["message"]
    assert not FormSubmission.objects.exists()


def test_a_viewer_may_not_record_a_submission(sender, viewer):
    assert_error(
        ApiClient(viewer).post("/forms/submissions", {"form": "x", "email": "li.lei@acme.example"}), 403
    )
    assert not FormSubmission.objects.exists()


def test_a_playbook_refuses_a_form_trigger_without_a_form_key(save):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        save(playbook_doc("broken", trigger={"type": "form_submitted", "fields": {"topic": ["a"]}}))
    assert refused.value.message_dict == {
        "definition.trigger.form": ["required (the form's key)"],
        "definition.trigger.fields": ["expected {name: value} with plain values"],
    }
