"""The Chinese account page reads in Chinese: after the real daily run (health, signals, stages),
with a churn prediction, a value tier and a CLV, the page's text holds no raw key (snake_case) and
no English sentence of the catalogue. Screenshots in both languages go to tests/artifacts/."""

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from clm.core import services
from clm.customers.models import Account
from tests.conftest import make_user
from tests.core.test_catalog import PO, entries
from tests.web.browser.conftest import sign_in
from tests.web.conftest import build_history

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")


def english_sentences() -> list[str]:
    """Pieces of the catalogue's English of two words or more (placeholders cut out): any of them
    on a Chinese page is a sentence left untranslated."""
    pieces = set()
    for _, msgid, _ in entries(PO.read_text("utf-8")):
        for piece in re.split(r"%\(\w+\)[sd]|\{[^}]*\}|[:：()（）]", msgid):
            piece = piece.strip(" .,;·–—\n")
            if len(re.findall(r"\b[A-Za-z][a-z]+\b", piece)) >= 2 and len(piece) >= 8:  # words, not NPS / CSAT
                pieces.add(piece)
    return sorted(pieces)


@pytest.fixture
def scored_account(transactional_db):
    from clm.commerce.models import Product
    from clm.core.roles import sync_role_groups
    from clm.lifecycle import services as lifecycle
    from clm.lifecycle.models import ChurnModel, ChurnPrediction
    from clm.usage.models import Feature
    from clm.value.models import CLVEstimate, Recommendation, TierAssignment

    sync_role_groups()
    user = make_user("mei", "CSM", first_name="美", last_name="陈")
    Feature.objects.create(key="reports", is_core=True)
    account = services.create(Account, {"name": "华为技术有限公司", "industry": "电子", "region": "华南", "csm": user})
    build_history(account, days=400, events=12)
    today = timezone.localdate()
    lifecycle.run(today - dt.timedelta(days=45), value=False)
    lifecycle.run(today, value=False)
    model = ChurnModel.objects.create(version="v1", kind="logistic", trained_at=timezone.now(), horizon_days=90,
                                      metadata={}, payload=b"", active=True)  # fmt: skip
    factors = [
        {"feature": "active_days_30d_vs_baseline", "value": -0.6, "typical": -0.05, "effect": 0.051},
        {"feature": "key_people_missing", "value": 2, "typical": 0, "effect": 0.03},
        {"feature": "nps_365d", "value": -71.4, "typical": 20, "effect": 0.012},
        {"feature": "seat_utilisation", "value": 0.9, "typical": 0.5, "effect": -0.011},
        {"feature": "_other", "value": None, "typical": None, "effect": 0.008},
    ]
    ChurnPrediction.objects.create(account=account, as_of=today, model=model, probability=0.17,
                                   factors=[{**f, "baseline": 0.08} for f in factors])  # fmt: skip
    TierAssignment.objects.create(account=account, as_of=today, tier="growth", tier_label="Growth", tenure_years=1,
                                  total_revenue=90000, segment="at_risk")  # fmt: skip
    CLVEstimate.objects.create(
        account=account, as_of=today, method="sbg", value=120000, historical_value=50000, future_value=70000,
        inputs={"model": "sBG", "active": True, "monthly_margin": 1800.0, "retention_next_month": 0.97,
                "annual_discount_rate": 0.1, "discounted_expected_residual_months": 38.9},
    )  # fmt: skip
    Recommendation.objects.create(account=account, product=Product.objects.create(name="BI 模块"), score=1,
                                  confidence=0.6, lift=2, due_from=today, due_to=today + dt.timedelta(days=60),
                                  reason="bought CLM Cloud", reason_zh="已购云版", computed_on=today)  # fmt: skip
    return account


def test_the_chinese_account_page_has_no_raw_key_and_no_english_sentence(page, live_server, scored_account, artifacts):
    page.set_default_timeout(15_000)
    page.set_viewport_size({"width": 1366, "height": 900})
    sign_in(page, live_server.url, "mei")
    page.goto(f"{live_server.url}/accounts/{scored_account.pk}/")
    expect(page.get_by_test_id("account-name")).to_have_text("华为技术有限公司")
    expect(page.get_by_test_id("usage-chart").locator("canvas")).to_have_count(1)
    text = page.locator("main").inner_text()

    assert SNAKE.findall(text) == []
    left = [s for s in english_sentences() if s in text]
    assert left == []
    for words in ("使用频率", "近30天活跃天数比自身基线下降 60%", "典型客户的流失风险为 8.0%", "17.0%", "+5.1",
                  "成长客户", "有流失风险客户", "参考公式", "计算方法", "预警"):  # fmt: skip
        assert words in text, words
    # the warning level the run stored, in words, with why (or that there is none)
    level = page.get_by_test_id("warning").inner_text()
    assert level in ("无预警", "关注", "重点关注", "流失预警"), level
    # the usage chart: weeks, whole numbers of users, axis titles inside the chart
    option = page.evaluate(
        "() => { const o = echarts.getInstanceByDom(document.getElementById('usage-chart')).getOption();"
        " return {points: o.series[0].data.length, minInterval: o.yAxis[0].minInterval, names: o.yAxis.map(a => a.name),"
        " contain: o.grid[0].containLabel}; }"
    )
    assert option == {"points": 52, "minInterval": 1, "names": ["用户", "分钟"], "contain": True}
    page.screenshot(path=str(artifacts / "account-words-zh.png"), full_page=True)
    page.locator("header.account-head").screenshot(path=str(artifacts / "account-words-zh-header.png"))
    page.get_by_test_id("usage-chart").screenshot(path=str(artifacts / "account-words-zh-usage.png"))
    page.locator(".col-side section").nth(1).screenshot(path=str(artifacts / "account-words-zh-health.png"))
    page.get_by_test_id("clv-detail").screenshot(path=str(artifacts / "account-words-zh-clv.png"))
    page.get_by_test_id("warning-level").screenshot(path=str(artifacts / "account-words-zh-warning.png"))

    page.get_by_test_id("language").select_option("en")
    expect(page.get_by_test_id("health-components")).to_contain_text("Usage frequency")
    english = page.locator("main").inner_text()
    assert "Active days in the last 30 days down 60% on the account's own baseline" in english
    assert "A typical account's risk is 8.0%" in english and SNAKE.findall(english) == []
    page.screenshot(path=str(artifacts / "account-words-en.png"), full_page=True)
    page.locator(".col-side section").nth(1).screenshot(path=str(artifacts / "account-words-en-health.png"))
