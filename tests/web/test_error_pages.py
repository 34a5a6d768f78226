"""The 404 and 500 pages: the workspace's look, the user's language, a way home; the 500 page
renders with no request and no database."""

import pytest
from django.test import RequestFactory
from django.utils import translation
from django.views.defaults import server_error


@pytest.mark.django_db
@pytest.mark.parametrize(("language", "heading"), [("zh-hans", "页面没有找到"), ("en", "Page not found")])
def test_an_unknown_address_shows_the_workspace_404_in_the_users_language(client, language, heading):
    response = client.get("/no/such/page/", HTTP_ACCEPT_LANGUAGE=language)
    html = response.content.decode()
    assert response.status_code == 404
    assert f"<h1>{heading}</h1>" in html and 'href="/"' in html and "web/app.css" in html


@pytest.mark.django_db
def test_another_owners_account_is_the_same_404_page(client, owner, theirs, team_visibility):
    client.force_login(owner)
    response = client.get(f"/accounts/{theirs.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 404 and b'data-testid="not-found"' in response.content


@pytest.mark.parametrize(("language", "heading"), [("zh-hans", "出错了"), ("en", "Something went wrong")])
def test_the_500_page_renders_without_a_request_context_or_database(language, heading):
    # No django_db mark: any query here would fail the test.
    with translation.override(language):
        response = server_error(RequestFactory().get("/accounts/"))
    html = response.content.decode()
    assert response.status_code == 500
    assert f"<h1>{heading}</h1>" in html and 'href="/"' in html and "web/app.css" in html
