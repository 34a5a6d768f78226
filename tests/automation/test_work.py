"""Tasks and cases through their services: who may do what, what is refused and why, the rule-made
case de-duplication, the audit trail and the domain events."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from clm.automation import work
from clm.automation.models import Case, RootCause, Task
from clm.core.access import visible_records
from clm.core.models import AuditLog
from clm.lifecycle.models import Signal
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def test_a_rep_creates_a_task_on_a_visible_account_and_it_is_audited(owner, ours, buyer):
    due = timezone.now() + dt.timedelta(days=2)
    task = work.create_task(owner, title=" Call 王芳 ", account=ours, contact=buyer, due_at=due, via="ui")
    assert (task.title, task.assignee, task.created_by, task.status) == ("Call 王芳", owner, owner, "open")
    log = AuditLog.objects.get(model="automation.task", object_id=str(task.pk))
    assert (log.actor, log.via, log.action, log.changes["title"]) == (owner, "ui", "create", [None, "Call 王芳"])


def test_a_viewer_cannot_create_a_task(viewer, ours):
    with pytest.raises(PermissionDenied, match="may not create tasks"):
        work.create_task(viewer, title="x", account=ours)
    assert not Task.objects.exists()


def test_a_rep_cannot_create_a_task_on_an_account_hidden_by_team_visibility(owner, theirs, team_visibility):
    with pytest.raises(PermissionDenied, match="West Corp"):
        work.create_task(owner, title="x", account=theirs)


def test_bad_input_is_refused_by_field_and_nothing_is_written(owner, ours, theirs):
    stranger = work.create_task(None, title="theirs", account=theirs)
    other_contact = theirs.contacts.create(name="Bob")
    with pytest.raises(ValidationError) as error:
        work.create_task(owner, title="  ", account=ours, contact=other_contact, priority="whenever")
    messages = error.value.message_dict
    assert messages["title"] == ["Give the task a title."]
    assert "Bob is not a contact" in messages["contact"][0]
    with pytest.raises(ValidationError) as error:
        work.create_task(owner, title="ok", account=ours, priority="whenever")
    assert "priority" in error.value.message_dict
    assert list(Task.objects.all()) == [stranger]


def test_a_system_task_goes_to_the_accounts_csm_and_remembers_its_enrollment(ours, csm):
    task = work.create_task(None, title="Win them back", account=ours, source="playbook", enrollment=41)
    assert (task.assignee, task.created_by, task.enrollment_id, task.source) == (csm, None, 41, "playbook")


def test_a_task_without_account_is_seen_by_its_assignee_creator_and_admins_only(owner, teammate, csm, admin_user, viewer):
    task = work.create_task(owner, title="Prepare QBR deck", assignee=csm)
    assert visible_records(Task, owner).filter(pk=task.pk).exists()
    assert visible_records(Task, csm).filter(pk=task.pk).exists()
    assert visible_records(Task, admin_user).filter(pk=task.pk).exists()
    assert not visible_records(Task, teammate).filter(pk=task.pk).exists()
    assert not visible_records(Task, viewer).filter(pk=task.pk).exists()


def test_task_visibility_follows_the_account(owner, teammate, outsider, team_visibility):
    from clm.customers.models import Account

    east_only = Account.objects.create(name="East only", sales_owner=owner)
    task = work.create_task(None, title="x", account=east_only)
    assert visible_records(Task, teammate).filter(pk=task.pk).exists()  # same team as the owner
    assert not visible_records(Task, outsider).filter(pk=task.pk).exists()

    assert list(visible_records(Task, outsider)) == []


def test_complete_moves_the_case_in_progress_and_says_so_after_commit(
    owner, ours, heard, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        case, created = work.open_case(owner, account=ours, type="risk", reason="Usage fell by half")
        task = work.create_task(owner, title="Call the champion", case=case)
        work.complete_task(owner, task, outcome="They are moving to a competitor", via="api")
    task.refresh_from_db()
    case.refresh_from_db()
    assert created and task.account == ours
    assert (task.status, task.outcome) == ("done", "They are moving to a competitor")
    assert task.completed_at is not None
    assert case.status == Case.Status.IN_PROGRESS
    assert [name for name, _ in heard] == ["case.opened", "task.created", "task.completed"]
    assert heard[2][1] == {
        "task_id": task.pk, "account_id": ours.pk, "assignee_id": owner.pk, "case_id": case.pk,
        "enrollment_id": None, "outcome": "They are moving to a competitor",
    }


def test_a_done_task_cannot_be_completed_again(owner, ours):
    task = work.create_task(owner, title="x", account=ours)
    work.complete_task(owner, task)
    with pytest.raises(ValidationError, match="already Done"):
        work.complete_task(owner, task)
    with pytest.raises(ValidationError, match="already Done"):
        work.snooze_task(owner, task, timezone.now() + dt.timedelta(days=1))


def test_an_outsider_cannot_act_on_a_task_of_an_account_they_cannot_see(owner, outsider, team_visibility):
    from clm.customers.models import Account

    task = work.create_task(owner, title="x", account=Account.objects.create(name="East only", sales_owner=owner))
    for act in (
        lambda: work.complete_task(outsider, task),
        lambda: work.cancel_task(outsider, task),
        lambda: work.reassign_task(outsider, task, outsider),
        lambda: work.snooze_task(outsider, task, timezone.now() + dt.timedelta(days=1)),
    ):
        with pytest.raises(PermissionDenied):
            act()
    task.refresh_from_db()
    assert (task.status, task.assignee) == ("open", owner)


def test_a_viewer_cannot_complete_a_task(owner, viewer, ours):
    task = work.create_task(owner, title="x", account=ours)
    with pytest.raises(PermissionDenied, match="may not change tasks"):
        work.complete_task(viewer, task)


def test_reassign_and_snooze_are_checked_and_audited(owner, csm, ours):
    task = work.create_task(owner, title="x", account=ours)
    inactive = make_user("gone", "Sales", is_active=False)
    with pytest.raises(ValidationError, match="not an active user"):
        work.reassign_task(owner, task, inactive)
    work.reassign_task(owner, task, csm, via="ui")
    with pytest.raises(ValidationError, match="future"):
        work.snooze_task(owner, task, timezone.now() - dt.timedelta(minutes=1))
    until = timezone.now() + dt.timedelta(days=3)
    work.snooze_task(owner, task, until)
    task.refresh_from_db()
    assert task.assignee == csm and task.snoozed_until == until and task.is_snoozed()
    actions = AuditLog.objects.filter(model="automation.task", object_id=str(task.pk)).order_by("at", "id")
    assert [sorted(a.changes) for a in actions][1:] == [["assignee_id"], ["snoozed_until"]]


def test_an_overdue_task_is_not_overdue_while_snoozed(owner, ours):
    task = work.create_task(owner, title="x", account=ours, due_at=timezone.now() - dt.timedelta(hours=2))
    assert task.is_overdue()
    work.snooze_task(owner, task, timezone.now() + dt.timedelta(hours=5))
    assert not task.is_overdue()


def test_update_task_changes_only_what_may_change(owner, ours, buyer):
    task = work.create_task(owner, title="x", account=ours)
    work.update_task(owner, task, {"title": "Renewal call", "contact": buyer, "priority": "high"})
    task.refresh_from_db()
    assert (task.title, task.contact, task.priority) == ("Renewal call", buyer, "high")
    with pytest.raises(ValidationError) as error:
        work.update_task(owner, task, {"status": "done"})
    assert error.value.message_dict == {"status": ["This field cannot be changed here."]}


# -- cases ----------------------------------------------------------------------------------------


def test_a_rule_opens_one_case_per_account_type_and_reason(ours, csm, heard, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first, created = work.open_case(None, account=ours, type="win_back", reason="Health below 60", rule="health-red-winback")
        again, created_again = work.open_case(None, account=ours, type="win_back", reason="Health below 60", rule="health-red-winback")
        other, created_other = work.open_case(None, account=ours, type="win_back", reason="Key person left", rule="champion-left")
    assert created and not created_again and created_other
    assert again == first and first.owner == csm
    assert [p["case_id"] for name, p in heard if name == "case.opened"] == [first.pk, other.pk]


def test_a_closed_rule_case_does_not_block_a_new_one(ours, root_causes):
    first, _ = work.open_case(None, account=ours, type="risk", reason="Usage fell", rule="usage")
    work.close_case(None, first, outcome="closed_success", root_cause="product")
    second, created = work.open_case(None, account=ours, type="risk", reason="Usage fell", rule="usage")
    assert created and second != first


def test_cases_opened_by_hand_are_never_merged(owner, ours):
    a, _ = work.open_case(owner, account=ours, type="risk", reason="Budget cut")
    b, created = work.open_case(owner, account=ours, type="risk", reason="Budget cut")
    assert created and a != b


def test_the_database_refuses_a_second_open_rule_case(ours):
    work.open_case(None, account=ours, type="risk", reason="r", rule="x")
    with pytest.raises(IntegrityError), transaction.atomic():
        Case.objects.create(account=ours, type="risk", reason="r", rule="y")


def test_a_signal_opens_its_case_once(ours):
    today = dt.date.today()
    signal = Signal.objects.create(account=ours, kind="usage_drop", title="Usage −50%", opened_on=today, last_seen_on=today)
    first, _ = work.open_case(None, account=ours, type="risk", reason="Usage −50%", signal=signal)
    second, created = work.open_case(None, account=ours, type="risk", reason="Usage −50%", signal=signal)
    assert not created and second == first and first.rule == "signal:usage_drop"


def test_open_case_refuses_bad_input_by_field(owner, ours, theirs):
    today = dt.date.today()
    signal = Signal.objects.create(account=theirs, kind="k", title="t", opened_on=today, last_seen_on=today)
    with pytest.raises(ValidationError) as error:
        work.open_case(owner, account=ours, type="risk", reason=" ", signal=signal)
    assert set(error.value.message_dict) == {"reason", "signal"}
    with pytest.raises(ValidationError) as error:
        work.open_case(owner, account=ours, type="gossip", reason="r")
    assert "type" in error.value.message_dict
    assert not Case.objects.exists()


def test_a_viewer_cannot_open_a_case(viewer, ours):
    with pytest.raises(PermissionDenied, match="may not open cases"):
        work.open_case(viewer, account=ours, type="risk", reason="r")


@pytest.fixture
def root_causes(db):
    return list(RootCause.objects.all())


def test_root_causes_are_seeded_in_both_languages(root_causes):
    assert [(c.code, c.name_zh) for c in root_causes] == [
        ("product", "产品"), ("service", "服务"), ("price", "价格"), ("business_budget", "业务/预算"),
        ("competitor", "竞争对手"), ("other", "其他"),
    ]
    assert root_causes[3].label("en") == "Business / budget"


def test_closing_a_case_needs_an_outcome_and_a_known_root_cause(owner, ours, root_causes):
    case, _ = work.open_case(owner, account=ours, type="risk", reason="r")
    with pytest.raises(ValidationError) as error:
        work.close_case(owner, case, outcome="fine", root_cause=None)
    assert set(error.value.message_dict) == {"outcome", "root_cause"}
    with pytest.raises(ValidationError, match="Unknown root cause weather"):
        work.close_case(owner, case, outcome="closed_lost", root_cause="weather")
    case.refresh_from_db()
    assert case.status == "open"


def test_closing_a_case_cancels_its_open_tasks_and_says_so(
    owner, ours, root_causes, heard, django_capture_on_commit_callbacks
):
    case, _ = work.open_case(owner, account=ours, type="win_back", reason="Went quiet")
    done = work.create_task(owner, title="Call", case=case)
    work.complete_task(owner, done)
    left = work.create_task(owner, title="Visit", case=case)
    with django_capture_on_commit_callbacks(execute=True):
        work.close_case(owner, case, outcome="closed_lost", root_cause="price", note="Chose a cheaper tool")
    left.refresh_from_db()
    assert (case.status, case.outcome, case.root_cause.code, case.close_note) == (
        "closed", "closed_lost", "price", "Chose a cheaper tool")
    assert left.status == "cancelled"
    assert heard == [("case.closed", {
        "case_id": case.pk, "account_id": ours.pk, "type": "win_back", "outcome": "closed_lost", "root_cause": "price",
    })]
    with pytest.raises(ValidationError, match="closed"):
        work.create_task(owner, title="late", case=case)
    history = list(work.case_history(case))
    assert {(h.model, h.object_id) for h in history} >= {("automation.case", str(case.pk)), ("automation.task", str(left.pk))}


def test_update_case_moves_between_open_and_in_progress_only(owner, ours):
    case, _ = work.open_case(owner, account=ours, type="renewal", reason="Renews in 90 days")
    work.update_case(owner, case, {"status": "in_progress", "priority": "high"})
    assert (case.status, case.priority) == ("in_progress", "high")
    with pytest.raises(ValidationError, match="outcome and root cause"):
        work.update_case(owner, case, {"status": "closed"})


def test_digest_setting_defaults_to_on(owner):
    assert work.wants_digest(owner)
    work.set_digest(owner, False)
    assert not work.wants_digest(owner)
