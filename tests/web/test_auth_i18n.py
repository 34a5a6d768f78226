"""Sign-in, sign-out, password reset by email, and each user's language and time zone."""

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from clm.customers.models import Interaction

pytestmark = pytest.mark.django_db


def test_the_workspace_asks_anonymous_visitors_to_sign_in(client):
    response = client.get(reverse("web:accounts"))
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=/accounts/")


def test_a_user_signs_in_and_lands_on_my_work(client, owner):
    response = client.post(reverse("web:login"), {"username": "owner", "password": "pw-owner"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("web:home")
    assert response.context["user"] == owner


def test_a_wrong_password_is_refused_with_a_message(client, owner):
    response = client.post(reverse("web:login"), {"username": "owner", "password": "nope"})
    assert response.status_code == 200 and b'role="alert"' in response.content
    assert not response.context["user"].is_authenticated


def test_signing_out_ends_the_session(client, owner):
    client.force_login(owner)
    response = client.post(reverse("web:logout"))
    assert response.status_code == 302
    assert client.get(reverse("web:home")).status_code == 302


def test_a_password_reset_mails_a_link_that_sets_a_new_password(client, owner):
    owner.email = "owner@example.cn"
    owner.save()
    client.post(reverse("web:password_reset"), {"email": "owner@example.cn"})
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/password-reset/\S+/)", mail.outbox[0].body).group(1)
    form = client.get(link, follow=True)
    assert form.context["validlink"]
    done = client.post(form.redirect_chain[-1][0], {"new_password1": "a-Long-new-pass-42", "new_password2": "a-Long-new-pass-42"})
    assert done.status_code == 302
    owner.refresh_from_db()
    assert owner.check_password("a-Long-new-pass-42")


def test_the_default_language_follows_the_browser(client, owner):
    client.force_login(owner)
    english = client.get(reverse("web:home"), HTTP_ACCEPT_LANGUAGE="en")
    chinese = client.get(reverse("web:home"), HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    assert "My work" in english.content.decode()
    assert "我的工作" in chinese.content.decode()


def test_the_users_own_language_wins_over_the_browser(client, owner):
    owner.language = "en"
    owner.save()
    client.force_login(owner)
    assert "My work" in client.get(reverse("web:home"), HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()


def test_switching_the_language_is_kept_on_the_user(client, owner):
    client.force_login(owner)
    response = client.post(reverse("web:set_language"), {"language": "en", "next": "/accounts/"})
    assert response.status_code == 302 and response["Location"] == "/accounts/"
    owner.refresh_from_db()
    assert owner.language == "en"


def test_switching_refuses_an_outside_next_url(client, owner):
    client.force_login(owner)
    response = client.post(reverse("web:set_language"), {"language": "en", "next": "https://evil.example/"})
    assert response["Location"] == reverse("web:home")


def test_times_show_in_the_users_time_zone(client, owner, huawei):
    at = (timezone.now() - dt.timedelta(days=1)).replace(second=0, microsecond=0)
    Interaction.objects.create(account=huawei, type="note", occurred_at=at, summary="time zone check", owner=owner)
    client.force_login(owner)

    def shown(zone):
        return at.astimezone(ZoneInfo(zone)).strftime("%m-%d %H:%M")

    assert shown("Asia/Shanghai") in client.get(reverse("web:home")).content.decode()
    owner.time_zone = "America/New_York"
    owner.save()
    assert shown("America/New_York") in client.get(reverse("web:home")).content.decode()


def test_preferences_set_the_language_and_time_zone(client, owner):
    client.force_login(owner)
    response = client.post(reverse("web:preferences"), {
        "first_name": "芳", "last_name": "王", "email": "wf@example.cn", "language": "en", "time_zone": "Asia/Tokyo",
    })
    assert response.status_code == 302
    owner.refresh_from_db()
    assert (owner.language, owner.time_zone, owner.first_name) == ("en", "Asia/Tokyo", "芳")
    assert response.cookies["django_language"].value == "en"
    assert "王芳" in client.get(reverse("web:home")).content.decode()  # family name first


def test_preferences_refuse_an_unknown_time_zone(client, owner):
    client.force_login(owner)
    response = client.post(reverse("web:preferences"), {"language": "en", "time_zone": "Mars/Olympus"})
    assert response.status_code == 200 and 'role="alert"' in response.content.decode()
    owner.refresh_from_db()
    assert owner.time_zone == ""
