"""Sign-in throttling through the real login page (django-axes): by username and by address,
a bilingual message, an admin unlock, and API tokens unaffected."""

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client

from clm.core.models import ApiToken
from tests.conftest import make_user

pytestmark = pytest.mark.django_db
LIMIT = settings.AXES_FAILURE_LIMIT


def sign_in(username, password, address="10.0.0.1", language="en"):
    client = Client(REMOTE_ADDR=address, headers={"Accept-Language": language})
    response = client.post("/login/", {"username": username, "password": password})
    response.signed_in = "_auth_user_id" in client.session
    return response


@pytest.fixture
def rep(db):
    return make_user("rep", "Sales")


def test_after_the_limit_even_the_right_password_is_refused_for_that_username(rep):
    for _ in range(LIMIT - 1):
        response = sign_in("rep", "wrong")
        assert response.status_code == 200 and not response.signed_in
    assert sign_in("rep", "wrong").status_code == 429  # the failure that reaches the limit
    response = sign_in("rep", "pw-rep", address="10.9.9.9")  # another address: the username is locked
    assert response.status_code == 429 and not response.signed_in
    assert "Too many failed sign-ins" in response.content.decode()
    assert f"paused for {settings.AXES_COOLOFF_TIME.seconds // 60} minutes" in response.content.decode()


def test_the_message_is_in_the_users_language(rep):
    for _ in range(LIMIT):
        sign_in("rep", "wrong")
    response = sign_in("rep", "pw-rep", language="zh-hans")
    assert response.status_code == 429
    assert "登录失败次数过多" in response.content.decode()


def test_one_address_trying_many_usernames_is_locked_out(rep):
    for i in range(LIMIT - 1):
        assert sign_in(f"guess{i}", "wrong", address="10.6.6.6").status_code == 200
    assert sign_in("guess", "wrong", address="10.6.6.6").status_code == 429
    assert sign_in("rep", "pw-rep", address="10.6.6.6").status_code == 429
    assert sign_in("rep", "pw-rep", address="10.0.0.2").signed_in  # the user, elsewhere, is not


def test_a_success_before_the_limit_starts_the_count_again(rep):
    for _ in range(LIMIT - 1):
        sign_in("rep", "wrong")
    assert sign_in("rep", "pw-rep").signed_in
    for _ in range(LIMIT - 1):
        sign_in("rep", "wrong")
    assert sign_in("rep", "pw-rep").signed_in


def test_an_admin_unlocks_a_username(rep):
    for _ in range(LIMIT):
        sign_in("rep", "wrong")
    assert sign_in("rep", "pw-rep").status_code == 429
    call_command("axes_reset_username", "rep")
    assert sign_in("rep", "pw-rep").signed_in


def test_the_admin_lists_the_attempts_to_unlock_them(rep, admin_user):
    for _ in range(LIMIT):
        sign_in("rep", "wrong")
    client = Client()
    client.force_login(admin_user)
    page = client.get("/admin/axes/accessattempt/")
    assert page.status_code == 200 and "rep" in page.content.decode()


def test_api_tokens_of_a_locked_user_still_work(rep):
    token = ApiToken.issue(rep, "integration")[1]
    for _ in range(LIMIT):
        sign_in("rep", "wrong")
    assert sign_in("rep", "pw-rep").status_code == 429
    response = Client().get("/api/v1/accounts", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
