"""Up-sell recommendations through the daily value run: offered from real usage rollups and the
contract ledger, converted when the ledger shows the upgrade, with the expansion MRR; the KPI,
the API and the settings row."""

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest
from django.urls import reverse
from django.utils import timezone

from clm.commerce.models import Product
from clm.usage.models import Feature
from clm.usage.services import store_events
from clm.value import services
from clm.value.models import Recommendation, UpsellSettings
from tests.api.conftest import assert_error
from tests.factories import ledger, make_account, new_subscription

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


def use(account, users, days_ago=(3,), features=("approval_flow",)):
    """Events of ``users`` distinct users on each of ``days_ago`` days, stored and rolled up."""
    rows = []
    for d in days_ago:
        day = TODAY - dt.timedelta(days=d)
        for u in range(users):
            for f in features:
                rows.append((f"u{u}", f, f"{day} 10:00", f"{account.pk}-{d}-{u}-{f}"))
    frame = pd.DataFrame(rows, columns=["user_key", "feature", "local", "idempotency_key"])
    store_events(frame.assign(
        account_id=account.pk, contact_id=None, event="use", duration_seconds=60.0, quantity=1.0, properties="{}",
        occurred_at=pd.to_datetime(frame["local"]).dt.tz_localize("Asia/Shanghai"),
    ).drop(columns="local"))  # fmt: skip


@pytest.fixture
def world(owner, outsider):
    basic = Product.objects.create(name="Basic", family="Workspace", list_price=Decimal("120"))
    pro = Product.objects.create(name="Pro", family="Workspace", list_price=Decimal("260"))
    addon = Product.objects.create(name="IoT", family="Modules", list_price=Decimal("3000"))
    Feature.objects.create(key="approval_flow", is_core=True)
    Feature.objects.create(key="tasks", is_core=True)
    start = TODAY - dt.timedelta(days=200)
    full = make_account("full", sales_owner=owner, customer_since=start)
    quiet = make_account("quiet", sales_owner=outsider, customer_since=start)
    base = new_subscription(full, start, "1200", seats=10, product=basic)
    new_subscription(full, start, "3000", seats=1, product=addon)
    new_subscription(quiet, start, "1200", seats=10, product=basic)
    use(full, 10)  # 10 users on 10 seats: full
    use(full, 1, features=("tasks",))
    use(quiet, 3)
    return {"full": full, "quiet": quiet, "basic": basic, "pro": pro, "addon": addon, "base": base}


def test_full_seats_get_an_upgrade_that_converts_with_its_expansion(world):
    summary = services.recompute(TODAY)
    assert summary["upsell_recommendations"]["created"] == 1
    rec = Recommendation.objects.get(kind="up_sell")
    # 10 users ÷ 10 seats = 100% ≥ 100%; both core features used; the next plan of the family is
    # Pro: potential 10 × (260 − 120) = 1400 a month. The add-on (1 seat, its own family) is no plan.
    assert (rec.account, rec.product, rec.because_of) == (world["full"], world["pro"], world["basic"])
    assert rec.evidence["utilisation"] == 1.0 and rec.evidence["signals"] == "seats,breadth"
    assert rec.score == 1400.0 and rec.baseline_mrr == Decimal("1200.00") and rec.offered_on == TODAY
    assert "10 active users on 10 seats" in rec.reason and "upgrade to Pro" in rec.reason
    assert "why: seats full, every core feature in use" in rec.reason
    assert "原因：席位已满、核心功能全部在用" in rec.reason_zh
    assert "建议升级至Pro" in rec.reason_zh and "使用率100%" in rec.reason_zh
    assert services.recompute(TODAY)["upsell_recommendations"] == {
        "created": 0, "refreshed": 1, "converted": 0, "withdrawn": 0
    }  # fmt: skip

    # Ten days later the account moves to Pro: Pro starts at 10 × 260 and Basic ends that day.
    later = TODAY + dt.timedelta(days=10)
    pro = new_subscription(world["full"], later, "2600", seats=10, product=world["pro"])
    ledger(world["base"], later, "churn", "0", 10, status="cancelled")
    assert pro.pk
    summary = services.recompute(later)
    assert summary["upsell_recommendations"]["converted"] == 1
    rec.refresh_from_db()
    assert rec.status == "converted" and rec.converted_on == later
    assert rec.expansion_mrr == Decimal("1400.00")  # 2600 − the baseline 1200
    kpis = services.upsell_kpis(TODAY, later - dt.timedelta(days=1))
    assert kpis == {"offered": 1, "converted": 1, "conversion_rate": 1.0, "expansion_mrr": Decimal("1400.00")}
    # the converted offer stays as it was; the account is now on Pro (the top plan) with 10 of 10
    # seats in use: a new offer of more seats on Pro, ceil(10 ÷ 0.8) − 10 = 3 seats × 2600/10 = 780
    assert summary["upsell_recommendations"]["created"] == 1
    seats = Recommendation.objects.get(kind="up_sell", status="open")
    assert (seats.product, seats.because_of, seats.evidence["action"]) == (world["pro"], world["pro"], "seats")
    assert seats.score == 780.0 and seats.baseline_mrr == Decimal("2600.00") and seats.offered_on == later
    assert "3 more seats" in seats.reason and "增购3个席位" in seats.reason_zh
    # run again: the same live offer refreshed, never a second one for the account and product
    assert services.recompute(later)["upsell_recommendations"] == {
        "created": 0, "refreshed": 1, "converted": 0, "withdrawn": 0}
    assert list(Recommendation.objects.filter(kind="up_sell").order_by("pk").values_list("status", flat=True)) == [
        "converted", "open"]


def test_settings_row_changes_the_rule_and_the_api_marks_the_kind(world, api_as, owner, team_visibility):
    UpsellSettings.objects.create(seat_utilisation=0.3, core_breadth=1.0)
    services.recompute(TODAY)
    assert set(Recommendation.objects.filter(kind="up_sell").values_list("account__name", flat=True)) == {
        "full", "quiet"
    }  # fmt: skip
    body = api_as(owner).get("/value/recommendations?kind=up_sell").json_body
    assert [i["account"] for i in body["items"]] == ["full"]  # the outsider's account is not visible
    item = body["items"][0]
    assert item["kind"] == "up_sell" and item["kind_label"] == "Up-sell"
    assert item["evidence"]["seats"] == 10 and item["baseline_mrr"] == "1200.00"
    kpis = api_as(owner).get(f"/value/upsell-kpis?start={TODAY}&end={TODAY}").json_body
    assert kpis["offered"] == 1 and kpis["converted"] == 0 and kpis["conversion_rate"] == 0.0
    assert_error(
        api_as(owner).get(f"/value/upsell-kpis?start={TODAY}&end={TODAY - dt.timedelta(days=1)}"),
        400, "bad_request",
    )  # fmt: skip


def test_settings_out_of_range_are_refused_by_the_admin_form():
    from django.forms import modelform_factory

    form = modelform_factory(UpsellSettings, fields="__all__")(
        data={"seat_utilisation": "0", "growth": "0.25", "core_breadth": "1.5", "min_users": "3",
              "target_utilisation": "0.8", "window_days": "30", "due_days": "30", "attribution_days": "90"}
    )  # fmt: skip
    assert not form.is_valid()
    assert set(form.errors) == {"seat_utilisation", "core_breadth"}


def test_the_account_page_marks_up_sell_and_cross_sell_in_both_languages(world, client, owner):
    services.recompute(TODAY)
    Recommendation.objects.create(
        account=world["full"], product=Product.objects.create(name="BI", family="Services"), score=1,
        confidence=0.4, lift=2.0, due_from=TODAY, due_to=TODAY + dt.timedelta(days=30),
        reason="Bought Basic", reason_zh="购买了基础版", computed_on=TODAY,
    )  # fmt: skip
    client.force_login(owner)
    url = reverse("web:account", args=[world["full"].pk])
    en = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'data-testid="recommendation-up_sell"' in en and 'data-testid="recommendation-cross_sell"' in en
    assert ">Up-sell<" in en and ">Cross-sell<" in en and "+¥1,400 MRR possible" in en
    assert "upgrade to Pro" in en
    zh = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert ">增购升级<" in zh and ">交叉销售<" in zh and "建议升级至Pro" in zh and "预计每月经常性收入可增加 ¥1,400" in zh and "购买了基础版" in zh
