"""Saved views on the lead list: the accounts list's mechanism, with the list a view belongs to;
a rep saves the lead filters on screen, reopens them, and each list shows only its own views."""

import pytest
from django.urls import reverse

from clm.sales.models import Lead
from clm.web.models import SavedView

pytestmark = pytest.mark.django_db


def companies(response):
    return [lead.company for lead in response.context["page"].object_list]


def test_a_rep_saves_and_reopens_lead_filters(client, owner):
    Lead.objects.create(name="王磊", company="苏州精工", status="sql", owner=owner, fit_score=80)
    Lead.objects.create(name="李娜", company="杭州云栖", status="mql", owner=owner, fit_score=90)
    client.force_login(owner)
    response = client.post(reverse("web:saved_view_create"),
                           {"name": "我的 SQL", "query": "status=sql&owner=me", "list": "leads"})  # fmt: skip
    assert response.status_code == 302 and response["Location"] == reverse("web:leads") + "?status=sql&owner=me"
    view = SavedView.objects.get(user=owner)
    assert (view.list, view.query) == ("leads", "status=sql&owner=me")
    page = client.get(reverse("web:leads"))
    assert list(page.context["saved_views"]) == [view]
    assert f'href="{reverse("web:leads")}?status=sql&amp;owner=me"' in page.content.decode()
    assert companies(client.get(reverse("web:leads") + "?" + view.query)) == ["苏州精工"]
    assert list(client.get(reverse("web:accounts")).context["saved_views"]) == []  # not an accounts view
    deleted = client.post(reverse("web:saved_view_delete", args=[view.pk]))
    assert deleted["Location"] == reverse("web:leads") and not SavedView.objects.exists()


def test_the_same_name_on_both_lists_and_the_accounts_form_unchanged(client, owner):
    client.force_login(owner)
    client.post(reverse("web:saved_view_create"), {"name": "重点", "query": "band=red"})  # the accounts form: no list
    client.post(reverse("web:saved_view_create"), {"name": "重点", "query": "min_fit=70", "list": "leads"})
    client.post(reverse("web:saved_view_create"), {"name": "重点", "query": "min_fit=80", "list": "leads"})  # replaced
    assert sorted(SavedView.objects.values_list("list", "query")) == [("accounts", "band=red"), ("leads", "min_fit=80")]
    assert [v.query for v in client.get(reverse("web:accounts")).context["saved_views"]] == ["band=red"]


def test_an_unknown_list_is_refused_with_the_reason(client, owner):
    client.force_login(owner)
    response = client.post(reverse("web:saved_view_create"), {"name": "x", "query": "", "list": "deals"},
                           follow=True, HTTP_ACCEPT_LANGUAGE="en")  # fmt: skip
    assert response.status_code == 200 and not SavedView.objects.exists()
    assert "deals" in " ".join(str(m) for m in response.context["messages"])
