"""Shared fixtures: named users for every permission case (an owner, a teammate, an outsider, a
CSM, a viewer, an admin), an account, an API client per user, an HTTP receiver on 127.0.0.1, PostgreSQL detection, and the task
queue in immediate mode. The records themselves are built by tests/factories.py."""

import os

import pytest
from django.db import connection

from tests.factories import make_account, make_user


def pytest_report_header(config):
    url = os.environ.get("DATABASE_URL", "")
    return f"CLM database: {'PostgreSQL (' + url + ')' if url.startswith('postgres') else 'SQLite (embedded)'}"


@pytest.fixture(autouse=True)
def _immediate_tasks():
    from huey.contrib.djhuey import HUEY

    HUEY.immediate = True
    yield


@pytest.fixture(autouse=True)
def _no_language_left_over():
    """A request's middleware activates its language for the thread and leaves it active: each test
    starts from the workspace's (settings.LANGUAGE_CODE), whatever the one before asked for."""
    yield
    from django.utils import translation

    translation.deactivate()


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # The named users have passwords; PBKDF2 would spend most of each test's time hashing them.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def team_a(db):
    from clm.core.models import Team

    return Team.objects.create(name="East")


@pytest.fixture
def team_b(db):
    from clm.core.models import Team

    return Team.objects.create(name="West")


@pytest.fixture
def owner(team_a):
    return make_user("owner", "Sales", team_a)


@pytest.fixture
def teammate(team_a):
    return make_user("teammate", "Sales", team_a)


@pytest.fixture
def outsider(team_b):
    return make_user("outsider", "Sales", team_b)


@pytest.fixture
def csm(team_b):
    return make_user("csm", "CSM", team_b)


@pytest.fixture
def viewer(db):
    return make_user("viewer", "Viewer")


@pytest.fixture
def admin_user(db):
    return make_user("admin", "Admin", is_staff=True, is_superuser=True)


@pytest.fixture
def team_visibility(db):
    from clm.core.models import Workspace

    workspace = Workspace.current()
    workspace.record_visibility = Workspace.Visibility.TEAM
    workspace.save()
    return workspace


@pytest.fixture
def account(db):
    return make_account()


@pytest.fixture
def receiver(settings):
    """A real HTTP server on 127.0.0.1 that CLM's outbound guard lets through."""
    from tests.receivers import HttpReceiver

    settings.CLM_OUTBOUND_ALLOWED_HOSTS = frozenset({"127.0.0.1"})
    settings.CLM_PUBLIC_URL = "https://clm.example.com"
    with HttpReceiver() as server:
        yield server


@pytest.fixture
def api_as(db):
    """api_as(user) -> an API client authenticated with a fresh personal token of that user."""
    from tests.api.conftest import ApiClient

    return ApiClient


@pytest.fixture
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: run with DATABASE_URL=postgresql://... (.ci/run does)")


@pytest.fixture
def root_causes(db):
    """The migrations' root causes and the win-back offers for them, again: a transactional test
    elsewhere may have flushed them."""
    from importlib import import_module

    from django.apps import apps

    import_module("clm.automation.migrations.0002_root_causes").seed(apps, None)
    import_module("clm.automation.migrations.0006_winback_offers").seed(apps, None)


@pytest.fixture
def smtp(settings, monkeypatch):
    """A real SMTP server on 127.0.0.1 that Django's mail and the email channel send to; its
    ``messages`` are what it received."""
    from clm.automation.channels import email as email_channel
    from tests.receivers import SmtpServer

    with SmtpServer() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        settings.EMAIL_TIMEOUT = 5
        settings.DEFAULT_FROM_EMAIL = "CLM <clm@example.com>"
        settings.CLM_PUBLIC_URL = "https://clm.example.com"
        monkeypatch.setattr(email_channel, "BACKOFF", 0.01)
        yield server
