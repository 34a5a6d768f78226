"""A person's data (PIPL, GDPR): the export gathers it from every table, the erase leaves no
personal value anywhere, and both refuse a person who does not exist."""

import datetime as dt
import json

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import models
from django.utils import timezone, translation

from clm.automation.channels import consent
from clm.automation.models import Delivery, Engagement, Suppression
from clm.core.models import AuditLog
from clm.customers.models import Account, Contact
from clm.io.models import ImportJob
from clm.io.privacy import PrivacyError, erase_person, export_person, pseudonym
from clm.sales.models import Lead
from clm.service import feedback
from clm.usage.models import UsageDailyUser, UsageEvent
from tests.api.conftest import assert_error

NAME, EMAIL, PHONE = "欧阳雪梅", "xuemei.ouyang@example.cn", "13912345678"
NEEDLES = (NAME, EMAIL, PHONE)


@pytest.fixture
def person(admin_user, api_as):
    """One person in every table that can hold them, written through the API where it can be
    (so the audit log holds what the services write) and directly where no endpoint writes."""
    api = api_as(admin_user)
    account = api.post("/accounts", {"name": "雪梅科技"}).json_body
    other = api.post("/accounts", {"name": "引荐客户"}).json_body
    Account.objects.filter(pk=other["id"]).update(custom={"referrer_phone": PHONE, "tier": "gold"})
    contact = api.post("/contacts", {
        "account": account["id"], "name": NAME, "email": EMAIL, "phone": PHONE, "title": "CTO",
        "email_consent": True,
    })
    assert contact.status_code == 201, contact.content
    contact = contact.json_body
    assert api.patch(f"/contacts/{contact['id']}", {"title": f"CTO ({NAME})"}).status_code == 200
    now = timezone.now().isoformat()
    for path, body in (
        ("/interactions", {"account": account["id"], "contact": contact["id"], "type": "call",
                           "summary": f"和{NAME}通话，她的手机 {PHONE}"}),
        ("/tickets", {"account": account["id"], "contact": contact["id"], "subject": f"{NAME} 无法登录",
                      "opened_at": now}),
        ("/survey-responses", {"account": account["id"], "contact": contact["id"], "kind": "nps", "score": 9,
                               "comment": f"我是{NAME}，很满意", "responded_at": now}),
        ("/leads", {"name": NAME, "email": EMAIL.upper(), "phone": PHONE, "company": "雪梅科技"}),
    ):
        answer = api.post(path, body)
        assert answer.status_code == 201, (path, answer.content)
    assert api.patch(f"/accounts/{other['id']}", {"referred_by_contact": contact["id"]}).status_code == 200
    on = timezone.now() - dt.timedelta(days=1)
    UsageEvent.objects.create(account_id=account["id"], contact_id=contact["id"], user_key="u-42", event="login",
                              occurred_at=on, idempotency_key="e1", properties={"who": EMAIL})
    UsageEvent.objects.create(account_id=account["id"], user_key=EMAIL, event="export", occurred_at=on,
                              idempotency_key="e2")
    UsageEvent.objects.create(account_id=account["id"], user_key="someone-else", event="login", occurred_at=on,
                              idempotency_key="e3")
    UsageDailyUser.objects.create(account_id=account["id"], day=on.date(), user_key="u-42")
    delivery = Delivery.objects.create(
        channel="email", key="welcome:1", status="failed", account_id=account["id"], contact_id=contact["id"],
        to=EMAIL, subject=f"{NAME}，欢迎", error=f"550 <{EMAIL}> mailbox full", links=[f"https://x.cn/?e={EMAIL}"],
    )
    Engagement.objects.create(delivery=delivery, contact_id=contact["id"], kind="click",
                              url=f"https://x.cn/?e={EMAIL}")
    Suppression.objects.create(address=EMAIL, reason="unsubscribed", contact_id=contact["id"],
                               source=f"link for {EMAIL}")
    form = feedback.save_form(admin_user, {"key": "ideas", "title": "建议", "fields": [
        {"name": "email", "label": "邮箱", "type": "email", "required": True},
        {"name": "detail", "label": "内容", "type": "long_text", "required": True}]})
    feedback.submit(form, {"email": EMAIL, "detail": f"{NAME}：希望支持钉钉，电话 {PHONE}"})
    ImportJob.objects.create(kind="contacts", file="x.csv", original_name="x.csv",
                             report={"errors": [{"row": 3, "message": f"{EMAIL} is a duplicate"}]})
    return Contact.objects.get(pk=contact["id"])


def text_values(obj) -> list[str]:
    values = []
    for field in obj._meta.concrete_fields:
        value = getattr(obj, field.attname)
        if isinstance(field, models.JSONField):
            values.append(json.dumps(value, ensure_ascii=False))
        elif isinstance(value, str):
            values.append(value)
    return values


def personal_values_left() -> list[tuple[str, str]]:
    """(table, value) for every text or JSON cell of every table that still quotes the person."""
    found = []
    for model in apps.get_models(include_auto_created=True):
        for obj in model._base_manager.all():
            for value in text_values(obj):
                if any(n.lower() in value.lower() for n in NEEDLES):
                    found.append((model._meta.db_table, value))
    return found


def test_the_export_gathers_the_person_from_every_table(person):
    data = export_person(EMAIL)
    sections = data["sections"]
    assert sections["contact"][0]["name"] == NAME and sections["contact"][0]["phone"] == PHONE
    counts = {name: len(rows) for name, rows in sections.items()}
    assert counts == {
        "audit": counts["audit"], "contact": 1, "interactions": 1, "tickets": 1, "survey_responses": 1, "leads": 1,
        "usage_events": 2, "referrals": 1, "account_attributes": 1, "import_reports": 1, "email_deliveries": 1, "email_engagements": 1,
        "suppressions": 1, "feedback": 1,
    }
    # the contact's creation and edit, and the creation of each record naming it
    assert sorted((e["model"], e["action"]) for e in sections["audit"]) == [
        ("customers.contact", "create"), ("customers.contact", "update"), ("customers.interaction", "create"),
        ("sales.lead", "create"), ("service.feedbacksubmission", "create"), ("service.surveyresponse", "create"),
        ("service.ticket", "create"),
    ]
    assert {e["user_key"] for e in sections["usage_events"]} == {"u-42", EMAIL}
    assert any(NAME in line for line in data["summary"])
    json.dumps(data)  # plain JSON values throughout


def test_an_erase_leaves_no_personal_value_in_any_table(person):
    assert personal_values_left()  # the scan sees the person before
    contact_id, account_id = person.pk, person.account_id

    counts = erase_person(str(contact_id))

    assert personal_values_left() == []
    assert not Contact.objects.filter(pk=contact_id).exists()
    assert counts["usage_events"] == 2 + 1  # two events and the day's active user
    # usage keeps its shape: the same one-way token in the events and in the daily users
    keys = set(UsageEvent.objects.filter(account_id=account_id).values_list("user_key", flat=True))
    assert keys == {pseudonym("u-42"), pseudonym(EMAIL), "someone-else"}
    assert UsageDailyUser.objects.get(account_id=account_id).user_key == pseudonym("u-42")
    # the business facts stay, without the person
    account = Account.objects.get(pk=account_id)
    assert account.tickets.get().contact_id is None and account.survey_responses.get().score == 9
    assert account.interactions.get().summary == "[erased]"
    assert Account.objects.get(name="引荐客户").custom == {"referrer_phone": "[erased]", "tier": "gold"}
    lead = Lead.objects.get()
    assert lead.email == "" and lead.status and lead.company == "雪梅科技"
    # the audit log still says who changed what, and that an erasure happened
    rows = AuditLog.objects.filter(model="customers.contact", object_id=str(contact_id)).order_by("pk")
    assert [r.action for r in rows] == ["create", "update", "delete"]
    assert rows[1].actor.username == "admin" and set(rows[1].changes) == {"title"}
    assert rows[2].changes["erased"][1]["contact"] == 1


def test_an_erased_person_who_unsubscribed_is_still_not_emailed(person):
    erase_person(EMAIL)
    assert not Suppression.objects.filter(address=EMAIL).exists()
    returning = Contact.objects.create(account=Account.objects.first(), name="x", email=EMAIL.upper(),
                                       email_consent=True)
    assert consent.refusal(returning, marketing=False)[0] == Delivery.Reason.UNSUBSCRIBED


def test_the_erase_is_one_transaction(person, monkeypatch):
    from clm.io import privacy

    def broken(person):
        raise RuntimeError("disk full")

    parts = [p if p.name != "leads" else privacy.Part("leads", "leads", p.export, broken) for p in privacy.PARTS]
    monkeypatch.setattr(privacy, "PARTS", parts)
    with pytest.raises(RuntimeError):
        erase_person(EMAIL)
    assert Contact.objects.filter(pk=person.pk, name=NAME).exists()
    assert AuditLog.objects.filter(object_repr__contains=NAME).exists()
    assert Suppression.objects.filter(address=EMAIL).exists()


@pytest.mark.parametrize("ref, message", [
    ("999999", "No contact has the id 999999"),
    ("nobody@example.cn", "No contact has the email address nobody@example.cn"),
    ("Zhang", "Name the contact by its id or its email address"),
])
def test_it_refuses_a_person_that_does_not_exist(db, ref, message):
    with translation.override("en"), pytest.raises(PrivacyError, match=message):
        erase_person(ref)
    with translation.override("en"), pytest.raises(CommandError, match=message):
        call_command("privacy", "export", ref)
    with translation.override("zh-hans"), pytest.raises(CommandError, match="联系人"):
        call_command("privacy", "erase", ref, "--yes")


def test_it_refuses_an_email_two_contacts_share(person):
    Contact.objects.create(account=person.account, name="另一位", email=EMAIL)
    with translation.override("en"), pytest.raises(PrivacyError, match="Several contacts have the email address"):
        export_person(EMAIL)


def test_the_commands_export_to_a_file_and_erase_only_when_confirmed(person, tmp_path, capsys):
    out = tmp_path / "person.json"
    with translation.override("en"):
        call_command("privacy", "export", EMAIL, str(out))
    assert json.loads(out.read_text(encoding="utf-8"))["sections"]["contact"][0]["email"] == EMAIL
    assert "- leads: 1" in capsys.readouterr().out
    with translation.override("zh-hans"):
        call_command("privacy", "export", EMAIL, str(out))
    assert "- 线索: 1" in capsys.readouterr().out
    with pytest.raises(CommandError, match="--yes"):
        call_command("privacy", "erase", EMAIL)
    assert Contact.objects.filter(pk=person.pk).exists()
    call_command("privacy", "erase", EMAIL, "--yes")
    assert not Contact.objects.filter(pk=person.pk).exists()


def test_the_api_is_for_administrators(person, api_as, admin_user, owner):
    assert_error(api_as(owner).get(f"/privacy/contacts/{person.pk}"), 403, "forbidden")
    assert_error(api_as(owner).post(f"/privacy/contacts/{person.pk}/erase"), 403, "forbidden")
    api = api_as(admin_user)
    assert api.get(f"/privacy/contacts/{EMAIL}").json_body["sections"]["leads"][0]["phone"] == PHONE
    assert api.post(f"/privacy/contacts/{person.pk}/erase").json_body["erased"]["contact"] == 1
    assert_error(api.get(f"/privacy/contacts/{person.pk}"), 404, "not_found")
