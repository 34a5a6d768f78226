"""Accounts for the workspace tests: one owned by `owner` with a history, one owned by `outsider`;
and a manager (王强), signed in by `as_manager`."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from clm.commerce.models import Payment, Product
from clm.core import services
from clm.customers.models import Account, Contact, Interaction, Tag, TagCategory
from clm.service.models import SurveyResponse, Ticket
from clm.usage.models import Feature, UsageDaily, UsageDailyUser, UsageFeatureDaily
from tests.factories import new_subscription, order


def build_history(account, days: int = 400, events: int = 30):
    """Usage every day for `days` days, and `events` of each other kind on the timeline."""
    today = timezone.localdate()
    now = timezone.now()
    UsageDaily.objects.bulk_create(
        UsageDaily(account=account, day=today - dt.timedelta(days=d), events=20, active_users=d % 9 + 1, minutes=40.0)
        for d in range(days)
    )
    UsageDailyUser.objects.bulk_create(
        UsageDailyUser(account=account, day=today - dt.timedelta(days=d), user_key=f"u{k}")
        for d in range(days) for k in range(d % 9 + 1)
    )
    UsageFeatureDaily.objects.bulk_create(
        UsageFeatureDaily(account=account, day=today - dt.timedelta(days=d), feature=f, events=5, minutes=12.5)
        for d in range(days) for f in ("reports", "export")
    )
    product = Product.objects.get_or_create(name="CLM Cloud")[0]
    sub = new_subscription(
        account, today - dt.timedelta(days=days), 2000, seats=10, product=product,
        renewal_date=today + dt.timedelta(days=45),
    )
    contact = Contact.objects.create(account=account, name="王芳", email="wang.fang@example.cn", role="decision_maker",
                                     is_key_person=True)
    Contact.objects.create(account=account, name="李雷", role="champion", status="left", left_on=today)
    for i in range(events):
        at = now - dt.timedelta(days=i * 7, hours=1)
        Interaction.objects.create(account=account, contact=contact, type="call", occurred_at=at, summary=f"call {i}")
        order(account, at.date(), 100, external_id=f"o{account.pk}-{i}")
        Payment.objects.create(account=account, due_on=at.date(), amount=Decimal("100"))
        Ticket.objects.create(account=account, subject=f"ticket {i}", opened_at=at)
        SurveyResponse.objects.create(account=account, score=i % 11, responded_at=at)
    return sub


@pytest.fixture
def core_features(db):
    Feature.objects.create(key="reports", is_core=True)
    Feature.objects.create(key="export", is_core=False)


@pytest.fixture
def huawei(owner, csm, core_features):
    account = services.create(Account, {
        "name": "华为技术有限公司", "domain": "huawei.example", "industry": "电子", "region": "华南",
        "sales_owner": owner, "csm": csm, "health_score": 48, "health_band": "red",
        "lifecycle_stage": "at_risk", "lifecycle_stage_since": dt.date(2026, 9, 1),
    })
    build_history(account)
    return account


@pytest.fixture
def theirs(outsider):
    return services.create(Account, {
        "name": "长安汽车", "domain": "changan.example", "industry": "汽车", "region": "西南",
        "sales_owner": outsider, "health_score": 82, "health_band": "green", "lifecycle_stage": "mature",
    })


@pytest.fixture
def scene_tag(db):
    return Tag.objects.create(category=TagCategory.objects.create(name="产线自动化率"), value="高自动化")


@pytest.fixture
def login(client):
    def sign_in(user):
        client.force_login(user)
        return client
    return sign_in


@pytest.fixture
def signed_in(client, owner):
    """The test client, signed in as `owner`, who reads English."""
    owner.language = "en"
    owner.save()
    client.force_login(owner)
    return client


@pytest.fixture
def manager(db):
    from tests.conftest import make_user

    return make_user("boss", "Manager", first_name="强", last_name="王")


@pytest.fixture
def as_manager(client, manager):
    client.force_login(manager)
    return client
