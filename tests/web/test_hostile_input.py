"""Whatever a browser (or someone pretending to be one) sends, no page answers 500: every view of
the workspace, GET and POST, with each parameter set to values that have broken views before.
The API has its own fuzz test (tests/api/test_fuzz.py); these views read forms and query strings."""

import pytest
from django.urls import reverse

from clm.customers.models import Contact

pytestmark = pytest.mark.django_db

# NUL: PostgreSQL refuses it in text. "²" and "٣": digits to str.isdigit, and int("²") raises.
# 30 nines: past a bigint. The rest: empty, negative, long, and quoting.
HOSTILE = ["\x00", "a\x00b", "²", "٣", "9" * 30, "-1", "", "x" * 3000, "' OR 1=1 --", "<script>x</script>"]

PARAMS = [
    "q", "stage", "band", "owner", "csm", "industry", "region", "tag", "renewal", "sort", "page",
    "cursor", "kind", "next", "name", "query", "ids", "action", "user", "language", "type",
    "occurred_at", "summary", "outcome", "contact", "direction", "time_zone",
]


def pages(account, contact) -> list[tuple[str, str]]:
    """(method, url) of every workspace view that a signed-in user reaches."""
    return [
        ("get", reverse("web:home")),
        ("get", reverse("web:accounts")),
        ("get", reverse("web:accounts_export")),
        ("get", reverse("web:account", args=[account.pk])),
        ("get", reverse("web:account_timeline", args=[account.pk])),
        ("get", reverse("web:contact", args=[contact.pk])),
        ("get", reverse("web:preferences")),
        ("post", reverse("web:accounts_bulk")),
        ("post", reverse("web:saved_view_create")),
        ("post", reverse("web:account_log", args=[account.pk])),
        ("post", reverse("web:preferences")),
        ("post", reverse("web:set_language")),
    ]


@pytest.fixture
def signed_in(client, admin_user, huawei):
    client.force_login(admin_user)
    client.raise_request_exception = False  # a 500 is what the test looks for, not a traceback
    return client


def send(client, method: str, url: str, data: dict):
    return client.get(url, data) if method == "get" else client.post(url, data)


@pytest.mark.slow
def test_no_view_fails_on_any_one_hostile_parameter(signed_in, huawei):
    # One at a time too: with every parameter hostile, one refused field can hide another's failure.
    failures = []
    for method, url in pages(huawei, Contact.objects.filter(account=huawei).first()):
        for name in PARAMS:
            for value in ("\x00", "²"):
                response = send(signed_in, method, url, {name: value})
                if response.status_code >= 500:
                    failures.append((method, url, name, value))
    assert failures == []


@pytest.mark.parametrize("value", HOSTILE)
def test_no_view_fails_when_every_parameter_is_hostile(signed_in, huawei, value):
    contact = Contact.objects.filter(account=huawei).first()
    failures = [
        (method, url)
        for method, url in pages(huawei, contact)
        if send(signed_in, method, url, dict.fromkeys(PARAMS, value)).status_code >= 500
    ]
    assert failures == []
