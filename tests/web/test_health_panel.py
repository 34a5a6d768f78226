"""The 360 page's health panel, read through clm.lifecycle's own functions: the latest score with
its components, a year's trend, open signals, stage changes and the churn prediction."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from clm.web.overview import health_panel

pytestmark = pytest.mark.django_db


@pytest.fixture
def scored(huawei):
    from clm.lifecycle.models import ChurnModel, ChurnPrediction, HealthScore, Signal, StageTransition

    today = timezone.localdate()
    components = [
        {"key": "usage", "label": "Usage frequency", "weight": 30, "score": 40.0, "contribution": 12.0,
         "metrics": [{"metric": "active_days_30d", "value": 6, "score": 40.0}]},
        {"key": "sentiment", "label": "Sentiment", "weight": 10, "score": None, "contribution": 0.0, "metrics": []},
        {"key": "support", "label": "Support", "weight": 20, "score": 90.0, "contribution": 18.0, "metrics": []},
    ]
    for weeks in (40, 20, 0):
        HealthScore.objects.create(
            account=huawei, as_of=today - dt.timedelta(weeks=weeks), model="default", score=48.4 + weeks,
            score_int=round(48.4 + weeks), band="red" if weeks < 12 else "green", coverage=0.9, components=components,
        )
    HealthScore.objects.create(account=huawei, as_of=today - dt.timedelta(days=500), model="default", score=99,
                               score_int=99, band="green", coverage=1, components=[])  # older than a year
    Signal.objects.create(account=huawei, kind="login_drop", title="Logins down 50%", description="30-day logins vs baseline",
                          opened_on=today - dt.timedelta(days=9), last_seen_on=today)
    Signal.objects.create(account=huawei, kind="overdue", title="Overdue payment", opened_on=today - dt.timedelta(days=90),
                          last_seen_on=today - dt.timedelta(days=60), closed_on=today - dt.timedelta(days=60))
    model = ChurnModel.objects.create(version="v1", kind="logit", trained_at=timezone.now(), horizon_days=90,
                                      metadata={}, payload=b"", active=True)
    ChurnPrediction.objects.create(account=huawei, as_of=today, model=model, probability=0.37,
                                   factors=[{"feature": "key_people_missing", "value": 2, "typical": 0, "effect": 0.2,
                                             "baseline": 0.1},
                                            {"feature": "_other", "value": None, "typical": None, "effect": 0.07,
                                             "baseline": 0.1}])
    StageTransition.objects.create(account=huawei, date=today - dt.timedelta(days=30), from_stage="growth",
                                   to_stage="at_risk", rule="health_red_or_signal",
                                   description="health_band = red or signals_confirmed ≥ 1")
    return huawei


def test_the_panel_shows_components_trend_signals_and_churn_risk(client, owner, scored):
    panel = health_panel(scored)
    assert [c["key"] for c in panel.components] == ["usage", "support", "sentiment"]  # heaviest first
    assert len(panel.trend["days"]) == 3 and panel.trend["scores"][-1] == 48.4
    assert [s.title for s in panel.signals] == ["Logins down 50%"]
    client.force_login(owner)
    html = client.get(reverse("web:account", args=[scored.pk]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    for text in ["Usage frequency", "Active days in the last 30 days: 6", "Logins fell by half", "37.0%",
                 "A typical account's risk is 10.0%", "Key people who left and were not replaced: 2 (typical account: 0)",
                 "+20.0", "+7.0", "All other factors together", "Growth → <strong>Declining</strong>",
                 "Health is red, or an early-warning signal is confirmed",
                 'id="health-trend"', "Components with data carry 90% of the weight"]:
        assert text in html, text
    # the raw keys and the rule as an expression are for administrators only
    assert "active_days_30d" not in html and "signals_confirmed" not in html
    assert "Overdue payment" not in html and "Logins down 50%" not in html  # named by its kind


def test_the_health_panel_keeps_the_page_within_its_query_bound(client, owner, scored, django_assert_max_num_queries):
    client.force_login(owner)
    client.get(reverse("web:account", args=[scored.pk]))
    # 35, plus the tasks-and-cases panel: its tasks, its cases, three timeline sources (signals the third);
    # plus the membership panel: the tier history and the coupons used
    with django_assert_max_num_queries(42):
        client.get(reverse("web:account", args=[scored.pk]))
