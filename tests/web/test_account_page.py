"""The account 360 page, its timeline fragment and logging a note; visibility by URL; a bounded
number of queries whatever the history."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from clm.core.models import AuditLog
from clm.customers.models import Account, Interaction
from clm.web.overview import decision_chain
from tests.web.conftest import build_history

pytestmark = pytest.mark.django_db


def test_the_page_shows_the_header_and_sections(client, owner, huawei):
    client.force_login(owner)
    response = client.get(reverse("web:account", args=[huawei.pk]), HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert response.status_code == 200
    for text in [
        "华为技术有限公司",
        "At risk",
        "since 2026-09-01",
        ">48<",
        "24,000",
        "owner",
        "csm",
        "王芳",
        "李雷",
        "Left",
        "call 0",
        "CLM Cloud",
        'id="usage-chart"',
    ]:
        assert text in html, text
    o = response.context["o"]
    # by week, Monday to Sunday: 52 points, not 365; the people active in a week counted once
    assert len(o.usage["weeks"]) == 52 and max(o.usage["active_users"]) == 9
    assert dt.date.fromisoformat(o.usage["weeks"][-1]).weekday() == 0
    today = timezone.localdate()
    assert o.usage["core_minutes"][-1] == round(12.5 * (today.weekday() + 1))  # only the core feature counts


def test_another_owners_account_is_not_found_by_url(client, team_visibility, outsider, huawei):
    Account.objects.filter(pk=huawei.pk).update(csm=None)  # the CSM is in the outsider's team
    client.force_login(outsider)
    assert client.get(reverse("web:account", args=[huawei.pk])).status_code == 404
    assert client.get(reverse("web:account_timeline", args=[huawei.pk])).status_code == 404
    assert (
        client.post(
            reverse("web:account_log", args=[huawei.pk]), {"type": "note", "summary": "x"}
        ).status_code
        == 404
    )
    assert client.get(reverse("web:contact", args=[huawei.contacts.first().pk])).status_code == 404


def test_an_id_no_database_could_hold_is_not_found_rather_than_an_error(client, owner):
    client.force_login(owner)
    for name in ("web:account", "web:account_timeline", "web:contact"):
        assert client.get(reverse(name, args=[10**30])).status_code == 404, name


def test_a_teammate_sees_the_account(client, team_visibility, teammate, huawei):
    client.force_login(teammate)
    assert client.get(reverse("web:account", args=[huawei.pk])).status_code == 200


def test_the_page_makes_a_bounded_number_of_queries(
    client, owner, core_features, django_assert_max_num_queries
):
    from clm.core import services

    small = services.create(Account, {"name": "小客户", "sales_owner": owner})
    build_history(small, days=20, events=2)
    large = services.create(Account, {"name": "大客户", "sales_owner": owner})
    build_history(large, days=1500, events=300)  # years of history: the same queries
    client.force_login(owner)
    client.get(reverse("web:account", args=[small.pk]))  # warm the session
    # 35, plus the tasks-and-cases panel: its tasks, its cases, three timeline sources (signals the third);
    # plus the membership panel: the tier history and the coupons used
    with django_assert_max_num_queries(42) as few:
        client.get(reverse("web:account", args=[small.pk]))
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(reverse("web:account", args=[large.pk])).status_code == 200


def test_the_timeline_scrolls_by_cursor_without_repeats(client, owner, huawei):
    client.force_login(owner)
    url = reverse("web:account_timeline", args=[huawei.pk])
    seen, cursor, pages = [], None, 0
    while True:
        response = client.get(url, {"cursor": cursor} if cursor else {}, HTTP_HX_REQUEST="true")
        page = response.context["timeline"]
        seen += [(i.kind, i.id) for i in page.items]
        pages += 1
        cursor = page.next_cursor
        if not cursor:
            break
        assert 'hx-trigger="revealed"' in response.content.decode()
    assert len(seen) == len(set(seen)) and pages > 2


def test_the_timeline_filters_by_type(client, owner, huawei):
    client.force_login(owner)
    response = client.get(reverse("web:account_timeline", args=[huawei.pk]), {"kind": ["ticket", "survey"]})
    assert {i.kind for i in response.context["timeline"].items} == {"ticket", "survey"}


def test_a_bad_cursor_is_a_bad_request(client, owner, huawei):
    client.force_login(owner)
    assert (
        client.get(reverse("web:account_timeline", args=[huawei.pk]), {"cursor": "nonsense"}).status_code
        == 400
    )


def test_a_note_logged_inline_is_on_the_timeline_at_once(client, owner, huawei):
    client.force_login(owner)
    response = client.post(
        reverse("web:account_log", args=[huawei.pk]),
        {"type": "qbr", "summary": "QBR：续约意向明确 <b>bold</b>", "outcome": "续约"},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "QBR：续约意向明确 &lt;b&gt;bold&lt;/b&gt;" in html  # escaped, first on the timeline
    assert html.index("续约意向明确") < html.index("call 0")
    assert 'hx-swap-oob="true"' in html
    note = Interaction.objects.get(type="qbr")
    assert note.owner == owner and note.account == huawei
    assert AuditLog.objects.filter(
        model="customers.interaction", action="create", via="ui", actor=owner
    ).exists()


def test_an_empty_note_is_refused_with_the_form_shown_again(client, owner, huawei):
    client.force_login(owner)
    response = client.post(
        reverse("web:account_log", args=[huawei.pk]), {"type": "note", "summary": ""}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 422 and 'role="alert"' in response.content.decode()
    assert not Interaction.objects.filter(type="note").exists()


def test_a_viewer_cannot_log_notes(client, viewer, huawei):
    client.force_login(viewer)
    response = client.post(
        reverse("web:account_log", args=[huawei.pk]),
        {"type": "note", "summary": "hi"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 422 and not Interaction.objects.filter(type="note").exists()


def test_the_contact_page(client, owner, huawei):
    client.force_login(owner)
    contact = huawei.contacts.get(name="王芳")
    response = client.get(reverse("web:contact", args=[contact.pk]), HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert "wang.fang@example.cn" in html and "Decision maker" in html and "call 3" in html and "李雷" in html


def test_the_decision_chain_groups_by_role_key_people_first_leavers_last():
    from clm.customers.models import Contact

    people = [
        Contact(name="b", role="user"),
        Contact(name="c", role="user", status="left"),
        Contact(name="a", role="user", is_key_person=False),
        Contact(name="z", role="user", is_key_person=True),
        Contact(name="boss", role="decision_maker"),
        Contact(name="x", role=""),
    ]
    with translation.override("en"):
        chain = decision_chain(people)
        assert [str(label) for label, _ in chain] == ["Decision maker", "User", ""]
    assert [c.name for c in chain[1][1]] == ["z", "a", "b", "c"]


def test_usage_days_without_rows_read_as_zero(owner, huawei):
    from clm.web.overview import usage_series

    series = usage_series(huawei.pk, timezone.localdate() + dt.timedelta(weeks=4), weeks=8)
    assert series["active_users"][-4:] == [0] * 4 and series["active_users"][-5] > 0


def test_the_header_shows_clv_tier_and_offers_when_the_value_engine_has_run(client, owner, huawei):
    from clm.commerce.models import Product
    from clm.value.models import CLVEstimate, Recommendation, TierAssignment

    CLVEstimate.objects.create(
        account=huawei,
        as_of=dt.date(2026, 10, 1),
        method="sbg",
        value=120000,
        historical_value=50000,
        future_value=70000,
    )
    CLVEstimate.objects.create(
        account=huawei,
        as_of=dt.date(2026, 11, 1),
        method="sbg",
        value=130000,
        historical_value=52000,
        future_value=78000,
    )
    TierAssignment.objects.create(
        account=huawei,
        as_of=dt.date(2026, 11, 1),
        tier="gold",
        tier_label="Gold",
        tenure_years=2.5,
        total_revenue=90000,
    )
    Recommendation.objects.create(
        account=huawei,
        product=Product.objects.create(name="BI 模块"),
        score=0.8,
        confidence=0.6,
        lift=2.1,
        due_from=dt.date(2026, 12, 1),
        due_to=dt.date(2027, 2, 1),
        reason="bought CLM Cloud",
        reason_zh="已购云版",
        computed_on=dt.date(2026, 11, 1),
    )
    client.force_login(owner)
    html = client.get(reverse("web:account", args=[huawei.pk])).content.decode()
    assert "130,000" in html and "120,000" not in html
    assert "Gold" in html and "BI 模块" in html and "已购云版" in html


def test_timeline_values_read_in_the_users_language(client, owner, huawei):
    client.force_login(owner)
    html = client.get(
        reverse("web:account_timeline", args=[huawei.pk]),
        {"kind": ["ticket", "payment"]},
        HTTP_ACCEPT_LANGUAGE="zh-CN",
    ).content.decode()
    assert "普通" in html and "待处理" in html and "normal" not in html


def test_a_viewer_sees_no_note_form(client, viewer, owner, huawei):
    client.force_login(viewer)
    assert (
        'data-testid="log-form"' not in client.get(reverse("web:account", args=[huawei.pk])).content.decode()
    )
    client.force_login(owner)
    assert 'data-testid="log-form"' in client.get(reverse("web:account", args=[huawei.pk])).content.decode()


def test_the_decision_chain_reads_in_the_glossarys_words(client, owner, huawei):
    from clm.customers.models import Contact

    Contact.objects.create(account=huawei, name="赵强", role="user")
    client.force_login(owner)
    html = client.get(reverse("web:account", args=[huawei.pk]), HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "决策者" in html and "支持者" in html and "使用者" in html


def test_the_clv_says_how_it_was_computed_with_the_seeds_formula_beside_it(client, owner, huawei):
    """Seed 002's worked example: (M − R)(1 + d)/(1 + d − r) = (2000 − 500) × 1.05/(1.05 − 0.80)
    = 6300, with a monthly margin M − R of 1,500, retention r = 80% and d = 5% a month (an annual
    rate of 1.05¹² − 1 = 79.6%)."""
    from clm.value.models import CLVEstimate

    CLVEstimate.objects.create(
        account=huawei, as_of=dt.date(2026, 11, 1), method="sbg", value=60000, historical_value=50000,
        future_value=10000,
        inputs={"model": "sBG", "active": True, "monthly_margin": 1500.0, "retention_next_month": 0.8,
                "annual_discount_rate": 1.05**12 - 1, "discounted_expected_residual_months": 6.7},
    )  # fmt: skip
    client.force_login(owner)
    html = client.get(reverse("web:account", args=[huawei.pk]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    for text in ["shifted-beta-geometric retention model", "Monthly margin (M − R): ¥1,500",
                 "Retention next month (r): 80.0%", "d = 5.00% a month and r = 80.0%: ¥6,300",
                 "Value so far: ¥50,000", "Value still expected: ¥10,000"]:  # fmt: skip
        assert text in html, text
    zh = client.get(reverse("web:account", args=[huawei.pk]), HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "¥6,300" in zh and "Monthly margin" not in zh


def test_a_clv_the_orders_could_not_model_says_so_in_words(client, owner, huawei):
    """What the daily run writes for a base of ten order accounts (tests/value/test_recompute.py):
    the value so far, and why nothing more is estimated, in the user's language."""
    from clm.value.models import CLVEstimate

    CLVEstimate.objects.create(
        account=huawei, as_of=dt.date(2026, 11, 1), method="historical", value=5000, historical_value=5000,
        future_value=0,
        inputs={"model": "historical", "reason": "BG/NBD could not be fitted: not enough data to estimate BG/NBD",
                "not_enough_data": {"model": "BG/NBD", "customers": 10, "repeat_buyers": 6, "needed": 30,
                                    "needed_repeat_buyers": 10}},
    )  # fmt: skip
    client.force_login(owner)
    html = client.get(reverse("web:account", args=[huawei.pk]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert ("Not enough order history to estimate the value still to come: the repeat-purchase model needs at"
            " least 30 customers of whom 10 bought again; there are 10, of whom 6 bought again.") in html
    assert "¥5,000" in html and "¥¥" not in html  # the money filter writes the currency sign once
    zh = client.get(reverse("web:account", args=[huawei.pk]), HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "订单历史不足" in zh and "Not enough" not in zh and "BG/NBD could not" not in zh


def test_a_churned_account_shows_its_churn_date_and_last_health_and_no_live_value(client, owner, huawei):
    """Issue 13 §2: no live tier, CLV or offers for a churned account, and the header says when it
    churned and what its health was last."""
    from clm.commerce.models import Product
    from clm.lifecycle.models import HealthScore
    from clm.value.models import CLVEstimate, Recommendation, TierAssignment

    today = timezone.localdate()
    huawei.subscriptions.update(status="cancelled", cancelled_on=today - dt.timedelta(days=20))
    Account.objects.filter(pk=huawei.pk).update(lifecycle_stage="churned", health_score=None, health_band="")
    HealthScore.objects.create(account=huawei, as_of=today - dt.timedelta(days=21), model="default", score=51,
                               score_int=51, band="red", coverage=1, components=[])  # fmt: skip
    CLVEstimate.objects.create(account=huawei, as_of=today, method="sbg", value=62922, historical_value=1,
                               future_value=2)  # fmt: skip
    TierAssignment.objects.create(account=huawei, as_of=today, tier="growth", tier_label="Growth", tenure_years=1,
                                  total_revenue=1, segment="loyal")  # fmt: skip
    Recommendation.objects.create(account=huawei, product=Product.objects.create(name="BI 模块"), score=1,
                                  confidence=1, lift=1, due_from=today, due_to=today + dt.timedelta(days=30),
                                  reason="x", computed_on=today)  # fmt: skip
    client.force_login(owner)
    html = client.get(reverse("web:account", args=[huawei.pk]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    churned_on = (today - dt.timedelta(days=20)).isoformat()
    assert "Churned on" in html and churned_on in html and "Last health" in html and ">51<" in html
    assert "since 2026-09-01" not in html  # the day the engine saw the stage, not when it churned: one date only
    assert "62,922" not in html and "Value tier" not in html and "BI 模块" not in html
    assert "not scored yet" not in html and "Open signals" not in html


def test_offers_whose_window_has_ended_are_not_suggested(client, owner, huawei):
    from clm.commerce.models import Product
    from clm.value.models import Recommendation

    today = timezone.localdate()
    for name, ends in (("旧模块", today - dt.timedelta(days=400)), ("BI 模块", today + dt.timedelta(days=60))):
        Recommendation.objects.create(account=huawei, product=Product.objects.create(name=name), score=1,
                                      confidence=1, lift=1, due_from=ends - dt.timedelta(days=60), due_to=ends,
                                      reason="x", computed_on=today)  # fmt: skip
    client.force_login(owner)
    html = client.get(reverse("web:account", args=[huawei.pk])).content.decode()
    assert "BI 模块" in html and "旧模块" not in html


def test_tiers_and_segments_read_in_the_users_language(client, owner, huawei):
    from clm.value.models import TierAssignment

    TierAssignment.objects.create(account=huawei, as_of=timezone.localdate(), tier="growth", tier_label="Growth",
                                  tenure_years=1, total_revenue=1, segment="at_risk")  # fmt: skip
    client.force_login(owner)
    zh = client.get(reverse("web:account", args=[huawei.pk]), HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "成长客户" in zh and "有流失风险客户" in zh and "at_risk" not in zh
