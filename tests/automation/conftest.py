"""Automation fixtures (the SMTP server and the HTTP receiver on 127.0.0.1 are shared, in
tests/conftest.py): a contact who may be emailed, and accounts for the work tests (one owned by `owner`, team East, looked after by `csm`;
one owned by `outsider`, team West), and for the playbooks: accounts with owners, a tag library,
and a helper that saves a playbook."""

import pytest

from clm.automation.models import EmailTemplate, EmailTemplateVariant
from clm.core import events
from clm.customers.models import Account, Contact, Tag, TagCategory


@pytest.fixture
def account(owner):
    owner.first_name, owner.last_name = "Wei", "Zhang"
    owner.email = "owner@example.com"
    owner.save()
    return Account.objects.create(name="美的集团", industry="制造", region="华南", sales_owner=owner)


@pytest.fixture
def contact(account):
    return Contact.objects.create(
        account=account, name="李娜", email="Li.Na@Midea.example", email_consent=True
    )


@pytest.fixture
def welcome(db):
    template = EmailTemplate.objects.create(key="welcome", name="Welcome", variables=["report_url"])
    EmailTemplateVariant.objects.create(
        template=template,
        language="zh-hans",
        subject="欢迎 {{ contact.name }}，来自 {{ company.name }}",
        html=(
            "<html><body><p>{{ contact.name }}，您好！{{ account.name }} 的行业报告："
            '<a href="{{ report_url }}">下载</a> · <a href="https://example.com/a?x=1&amp;y=2">更多</a></p>'
            "</body></html>"
        ),
        text="{{ contact.name }}，您好！报告：{{ report_url }}",
    )
    EmailTemplateVariant.objects.create(
        template=template,
        language="en",
        subject="Welcome {{ contact.name }}",
        html='<p>Hello {{ contact.name }}, <a href="{{ report_url }}">the report</a></p>',
    )
    return template


@pytest.fixture
def ours(owner, csm):
    return Account.objects.create(name="华为技术", sales_owner=owner, csm=csm)


@pytest.fixture
def theirs(outsider):
    return Account.objects.create(name="West Corp", sales_owner=outsider)


@pytest.fixture
def buyer(ours):
    return Contact.objects.create(account=ours, name="王芳")


@pytest.fixture
def heard():
    """The work events heard, as (name, payload), once their transaction commits."""
    got = []

    def listener(event):
        got.append((event.name, event.payload))

    events.listen("task.created", "task.completed", "case.opened", "case.closed")(listener)
    yield got
    events.unlisten(listener)


@pytest.fixture(autouse=True)
def _fresh_cache():
    # The observed band churn rates are cached per day, active playbooks and the daily run's
    # metrics per process: each test has its own history.
    from django.core.cache import cache

    from clm.automation.playbooks import dispatch, subjects
    from clm.lifecycle import services as lifecycle

    def clear():
        cache.clear()
        dispatch.cache.clear()
        subjects._metrics_cache.clear()
        lifecycle._latest_metrics.clear()

    clear()
    yield
    clear()


@pytest.fixture(autouse=True)
def _english():
    # Service messages follow the active language; these tests read them in English.
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture
def accounts(owner, csm):
    rows = [
        Account(
            name=f"客户{i}",
            industry="制造业" if i % 2 else "零售",
            employee_count=50 + i,
            sales_owner=owner,
            csm=csm,
        )
        for i in range(10)
    ]
    return Account.objects.bulk_create(rows)


@pytest.fixture
def tags(db):
    category = TagCategory.objects.create(name="挽回")
    return {value: Tag.objects.create(category=category, value=value) for value in ("进行中", "成功")}


def playbook_doc(key="test-play", *, trigger=None, steps=None, conditions=None, exit=None, **extra):
    return {
        "key": key,
        "name": {"zh": "测试", "en": "Test"},
        "active": True,
        "definition": {
            "trigger": trigger or {"type": "manual"},
            "conditions": conditions,
            "exit": exit,
            "steps": steps or [{"id": "points", "type": "loyalty_points", "points": 10}],
        },
        **extra,
    }


@pytest.fixture
def save(admin_user):
    from clm.automation.playbooks import services

    def save(doc):
        return services.save_document(doc, actor=admin_user)[0]

    return save
