"""The work pages: "My work" with my tasks (overdue, today, upcoming), my open cases and my accounts
ranked by revenue at risk; the inline (htmx) task actions; the account panel and timeline; the case
page with its tasks, history and closing form; the digest setting in Preferences."""

import datetime as dt

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from clm.automation import work
from clm.automation.models import Case, Task
from clm.core.models import AuditLog

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()


def test_my_work_groups_my_tasks_and_lists_my_cases_and_stakes(signed_in, owner, huawei):
    now = timezone.now()
    late = work.create_task(owner, title="Late call", account=huawei, due_at=now - dt.timedelta(days=1))
    soon = work.create_task(owner, title="Later today", account=huawei, due_at=timezone.localtime(now).replace(hour=23, minute=59))
    later = work.create_task(owner, title="Next week", due_at=now + dt.timedelta(days=7))
    case, _ = work.open_case(owner, account=huawei, type="risk", reason="Usage fell", owner=owner)
    response = signed_in.get(reverse("web:home"))
    mine = response.context["mine"]
    assert [t.pk for t in mine.tasks.overdue] == [late.pk]
    assert [t.pk for t in mine.tasks.today] == ([soon.pk] if soon.due_at > now else [])
    assert later in mine.tasks.upcoming
    assert [c.pk for c in mine.cases] == [case.pk]
    html = response.content.decode()
    assert "Late call" in html and "Usage fell" in html
    # huawei: ARR 24,000, no model and no history of its band: listed with no estimate
    assert [a.pk for a, _ in mine.stakes] == [huawei.pk]
    assert "ARR ¥24,000 · no churn risk estimate yet" in html


def test_empty_states_explain_what_to_do(signed_in):
    html = signed_in.get(reverse("web:home")).content.decode()
    assert "No open tasks: nothing is due." in html
    assert "No open cases. Open one from an account page" in html


def test_a_task_is_added_inline_and_the_list_comes_back(signed_in, owner, huawei):
    response = signed_in.post(reverse("web:task_create"), {"title": "Send the proposal", "priority": "high",
                                                           "account": huawei.pk}, headers=HTMX)
    assert response.status_code == 200
    assert "Send the proposal" in response.content.decode() and 'data-testid="case-form"' in response.content.decode()
    task = Task.objects.get()
    assert (task.account, task.assignee, task.priority) == (huawei, owner, "high")
    assert AuditLog.objects.get(model="automation.task").via == "ui"


def test_a_panel_swapped_in_keeps_the_page_it_is_on_as_its_forms_next(signed_in, huawei):
    # a click that lands before htmx has taken over the new panel posts its form itself and
    # follows `next`: the page, not the address the panel came from (GET there is a 405)
    page = f"/accounts/{huawei.pk}/"
    added = signed_in.post(reverse("web:task_create"), {"title": "Call back", "priority": "normal", "account": huawei.pk, "next": page},
                           headers=HTMX)
    html = added.content.decode()
    assert added.status_code == 200 and "Call back" in html
    assert f'name="next" value="{page}"' in html and 'name="next" value="/tasks/' not in html


def test_a_bad_task_comes_back_with_its_error_and_nothing_is_saved(signed_in, huawei):
    response = signed_in.post(reverse("web:task_create"), {"title": "", "priority": "someday",
                                                           "account": huawei.pk}, headers=HTMX)
    assert response.status_code == 422
    html = response.content.decode()
    assert 'role="alert"' in html and "someday" in html
    assert not Task.objects.exists()


def test_complete_snooze_and_reassign_inline(signed_in, owner, csm, huawei):
    task = work.create_task(owner, title="Call", account=huawei, due_at=timezone.now() - dt.timedelta(hours=1))
    url = lambda action: reverse("web:task_action", args=[task.pk, action])  # noqa: E731
    snoozed = signed_in.post(url("snooze"), {"snooze": "3d"}, headers=HTMX)
    assert snoozed.status_code == 200 and 'data-testid="snoozed"' in snoozed.content.decode()
    given = signed_in.post(url("reassign"), {"assignee": csm.pk, "next": "/work/"}, headers=HTMX)
    assert given.status_code == 200
    # the row's forms still go back to the page it is on, not to the action's address (a click
    # that lands before htmx has taken over the new row posts the form itself and follows `next`)
    html = given.content.decode()
    assert html.count('name="next" value="/work/"') == 3 and 'name="next" value="/tasks/' not in html
    done = signed_in.post(url("complete"), {"outcome": "Agreed to renew"}, headers=HTMX)
    assert done.status_code == 200 and 'class="task done' in done.content.decode()
    task.refresh_from_db()
    assert (task.status, task.assignee, task.outcome) == ("done", csm, "Agreed to renew")
    again = signed_in.post(url("complete"), {}, headers=HTMX)
    assert again.status_code == 422 and "already Done" in again.content.decode()


def test_without_javascript_an_action_redirects_back(signed_in, owner, huawei):
    task = work.create_task(owner, title="Call", account=huawei)
    response = signed_in.post(reverse("web:task_action", args=[task.pk, "complete"]), {"next": f"/accounts/{huawei.pk}/"})
    assert response.status_code == 302 and response["Location"] == f"/accounts/{huawei.pk}/"


def test_an_outsider_cannot_touch_a_task_they_cannot_see(client, owner, outsider, huawei, team_visibility):
    huawei.csm = None
    huawei.save()
    task = work.create_task(owner, title="Call", account=huawei)
    client.force_login(outsider)
    assert client.post(reverse("web:task_action", args=[task.pk, "complete"]), headers=HTMX).status_code == 404
    assert client.post(reverse("web:task_create"), {"title": "x", "account": huawei.pk}).status_code == 404
    task.refresh_from_db()
    assert task.status == "open"


def test_a_viewer_sees_the_page_but_cannot_complete(client, owner, viewer, huawei):
    task = work.create_task(owner, title="Call", account=huawei)
    viewer.language = "en"
    viewer.save()
    client.force_login(viewer)
    page = client.get(reverse("web:account", args=[huawei.pk])).content.decode()
    assert "Call" in page and 'data-testid="task-form"' not in page and 'data-testid="complete"' not in page
    response = client.post(reverse("web:task_action", args=[task.pk, "complete"]), headers=HTMX)
    assert response.status_code == 422 and "may not change tasks" in response.content.decode()


def test_the_account_page_shows_its_work_and_the_timeline_its_tasks_and_cases(signed_in, owner, huawei):
    case, _ = work.open_case(owner, account=huawei, type="renewal", reason="Renews in 45 days")
    work.create_task(owner, title="Prepare renewal quote", case=case)
    html = signed_in.get(reverse("web:account", args=[huawei.pk])).content.decode()
    panel = html[html.index('data-testid="account-work"'):]
    assert "Renews in 45 days" in panel and "Prepare renewal quote" in panel
    timeline = signed_in.get(reverse("web:account_timeline", args=[huawei.pk]), {"kind": ["task", "case"]}).content.decode()
    assert "Prepare renewal quote" in timeline and "Renewal: Renews in 45 days" in timeline


def test_a_case_is_opened_from_the_account_and_closed_on_its_page(signed_in, owner, huawei, root_causes):
    response = signed_in.post(reverse("web:case_create", args=[huawei.pk]), {"type": "win_back", "reason": "Went quiet",
                                                                            "priority": "normal"})
    case = Case.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("web:case", args=[case.pk])
    work.create_task(owner, title="Call the sponsor", case=case)
    page = signed_in.get(reverse("web:case", args=[case.pk]))
    html = page.content.decode()
    assert "Win-back: Went quiet" in html and "Call the sponsor" in html and 'data-testid="case-history"' in html
    refused = signed_in.post(reverse("web:case_close", args=[case.pk]), {"outcome": "closed_lost"})
    assert refused.status_code == 422 and 'role="alert"' in refused.content.decode()
    case.refresh_from_db()
    assert case.status == "open"
    from clm.automation.models import RootCause

    price = RootCause.objects.get(code="price")
    closed = signed_in.post(reverse("web:case_close", args=[case.pk]), {"outcome": "closed_lost", "root_cause": price.pk})
    assert closed.status_code == 302
    case.refresh_from_db()
    assert (case.status, case.root_cause) == ("closed", price)
    html = signed_in.get(reverse("web:case", args=[case.pk])).content.decode()
    assert "Closed, lost" in html and 'data-testid="case-close"' not in html
    history = html[html.index('data-testid="case-history"'):]
    assert "Status: Open → Closed" in history and "Root cause: – → Price" in history
    assert "root_cause_id" not in history and "closed_lost" not in history


def test_the_case_page_is_in_chinese_for_a_chinese_user(client, owner, huawei, root_causes):
    owner.language = "zh-hans"
    owner.save()
    client.force_login(owner)
    case, _ = work.open_case(owner, account=huawei, type="win_back", reason="沉默 60 天")
    html = client.get(reverse("web:case", args=[case.pk])).content.decode()
    assert "挽回" in html and "关闭事项" in html and "根本原因" in html and "竞争对手" in html


def test_an_outsider_gets_404_for_a_hidden_case(client, owner, outsider, huawei, team_visibility):
    huawei.csm = None
    huawei.save()
    case, _ = work.open_case(owner, account=huawei, type="risk", reason="r")
    client.force_login(outsider)
    assert client.get(reverse("web:case", args=[case.pk])).status_code == 404
    assert client.post(reverse("web:case_close", args=[case.pk]), {"outcome": "closed_lost"}).status_code == 404


def test_the_digest_can_be_turned_off_in_preferences(signed_in, owner):
    page = signed_in.get(reverse("web:preferences")).content.decode()
    assert 'name="daily_digest"' in page and "checked" in page.split('name="daily_digest"')[1].split(">")[0]
    signed_in.post(reverse("web:preferences"), {"first_name": "", "last_name": "", "email": "o@example.com",
                                                "language": "en", "time_zone": ""})
    assert not work.wants_digest(owner)
