"""Domain events are heard after the transaction that made them commits, never after a rollback."""

import pytest
from django.db import transaction
from django.utils import timezone

from clm.core import events


@pytest.fixture
def heard():
    got = []

    def listener(event):
        got.append((event.name, event.payload))

    events.listen("account.tagged", "signal.opened")(listener)
    yield got
    events.unlisten(listener)


@pytest.mark.django_db(transaction=True)
def test_events_are_heard_only_after_commit(heard):
    with transaction.atomic():
        events.emit("account.tagged", account_id=1, tag_id=2)
        assert heard == []
    assert heard == [("account.tagged", {"account_id": 1, "tag_id": 2})]


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_transaction_says_nothing(heard):
    with pytest.raises(RuntimeError), transaction.atomic():
        events.emit("account.tagged", account_id=1, tag_id=2)
        raise RuntimeError("boom")
    assert heard == []


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_savepoint_drops_its_events_but_not_the_outer_ones(heard):
    with transaction.atomic():
        events.emit("account.tagged", account_id=1, tag_id=2)
        try:
            with transaction.atomic():
                events.emit("signal.opened", account_id=1, signal_id=9, kind="usage_drop", on="2026-01-01")
                raise RuntimeError("inner")
        except RuntimeError:
            pass
    assert [name for name, _ in heard] == ["account.tagged"]


@pytest.mark.django_db(transaction=True)
def test_a_failing_listener_does_not_stop_the_others(heard):
    def broken(event):
        raise ValueError("listener bug")

    events.listen("account.tagged")(broken)
    try:
        events.emit_many("account.tagged", [{"account_id": 1, "tag_id": 2}, {"account_id": 3, "tag_id": 2}])
    finally:
        events.unlisten(broken)
    assert [p["account_id"] for _, p in heard] == [1, 3]


def test_an_unknown_event_name_is_refused():
    with pytest.raises(events.UnknownEvent, match="account.staged"):
        events.emit("account.staged", account_id=1)
    with pytest.raises(events.UnknownEvent):
        events.listen("no.such")


@pytest.fixture
def everything():
    got = []
    events.listen("*")(got.append)
    yield got
    events.unlisten(got.append)


@pytest.mark.django_db(transaction=True)
def test_records_saved_through_the_services_announce_themselves(everything):
    from clm.core import services
    from clm.customers.models import Account, Contact
    from clm.service.models import SurveyResponse

    account = services.create(Account, {"name": "云帆"})
    contact = services.create(Contact, {"account": account, "name": "李雷"})
    services.update(contact, {"status": "left"})
    answer = services.create(
        SurveyResponse,
        {"account": account, "contact": contact, "kind": "nps", "score": 3, "responded_at": timezone.now()},
    )
    said = [(e.name, e.payload) for e in everything]
    assert ("account.created", {"account_id": account.pk}) in said
    assert ("contact.created", {"contact_id": contact.pk, "account_id": account.pk}) in said
    left = next(p for n, p in said if n == "contact.left")
    assert (left["contact_id"], left["before"], left["after"]) == (contact.pk, "active", "left")
    assert (
        "survey.answered",
        {
            "response_id": answer.pk,
            "account_id": account.pk,
            "contact_id": contact.pk,
            "kind": "nps",
            "score": 3,
        },
    ) in said


@pytest.mark.django_db(transaction=True)
def test_an_import_announces_what_it_wrote_by_the_same_rules(everything, tmp_path):
    from clm.io.engine import import_file
    from clm.sales.models import Lead

    path = tmp_path / "leads.csv"
    path.write_text("name,company,email,status\n王芳,云帆,wf@example.com,mql\n", encoding="utf-8")
    assert import_file("leads", path).status == "done"
    assert [e.payload for e in everything if e.name == "lead.created"] == [{"lead_id": Lead.objects.get().pk}]
