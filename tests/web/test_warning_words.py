"""The warning level and the early-warning signals in the user's words: the account page, the
accounts list (filter), the timeline, My work and the API, in Chinese and English, with the
stable kind kept for machines."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from clm.customers.models import Account, WarningLevel
from clm.lifecycle.models import AccountWarning, Signal

pytestmark = pytest.mark.django_db

ENGLISH_TITLES = [
    "The churn model puts the risk above its flag threshold",
    "Logins fell by half against the account's own baseline",
    "A payment is overdue",
]


@pytest.fixture
def warned(huawei):
    """华为: the churn model's risk (0.42, threshold 0.2) confirmed after two weeks, logins halved
    and a payment overdue firing beside it: high risk. The stored titles are the English data."""
    today = timezone.localdate()
    for kind, title, days, values in [
        ("churn_risk_high", ENGLISH_TITLES[0], 20, {"churn_risk_over_threshold": 2.1}),
        ("login_drop", ENGLISH_TITLES[1], 3, {"logins_30d_vs_baseline": -0.62, "logins_baseline_30d": 18}),
        ("overdue_payment", ENGLISH_TITLES[2], 2, {"overdue_days_max": 21}),
    ]:
        Signal.objects.create(account=huawei, kind=kind, title=title, values=values, last_values=values,
                              opened_on=today - dt.timedelta(days=days), last_seen_on=today)  # fmt: skip
    AccountWarning.objects.create(account=huawei, as_of=today, level=WarningLevel.CHURN_WARNING, evidence={
        "firing": ["churn_risk_high", "login_drop", "overdue_payment"], "confirmed": ["churn_risk_high"],
        "churn_risk": 0.42, "threshold": 0.2,
    })  # fmt: skip
    Account.objects.filter(pk=huawei.pk).update(warning_level=WarningLevel.CHURN_WARNING)
    return huawei


def page(client, user, name, *args, language="zh-hans", **query):
    user.language = language
    user.save()
    client.force_login(user)
    return client.get(reverse(name, args=args), query).content.decode()


def test_the_chinese_account_page_says_the_level_why_and_each_signal_in_chinese(client, owner, warned):
    html = page(client, owner, "web:account", warned.pk)
    for text in ["预警", "流失预警", "流失模型的风险持续高于预警阈值", "已确认：流失风险高", "同时触发：登录减半、付款逾期",
                 "流失风险 42.0%，预警阈值 20.0%（阈值的 2.1 倍）", "登录减半", "登录人次比自身基线下降一半",
                 "付款逾期", "流失模型给出的该客户流失风险高于预警阈值", "近30天登录人次比自身基线下降 62%"]:  # fmt: skip
        assert text in html, text
    for english in [*ENGLISH_TITLES, "High churn risk", "Logins fell by half", "Confirmed:", "churn_risk_high"]:
        assert english not in html, english


def test_the_english_account_page_reads_the_same_in_english(client, owner, warned):
    html = page(client, owner, "web:account", warned.pk, language="en")
    for text in ["Early warning", "Churn warning", "Confirmed: High churn risk", "Also firing: Logins fell by half, Payment overdue",
                 "Churn risk 42.0% against a flag threshold of 20.0% (2.1× the threshold)"]:  # fmt: skip
        assert text in html, text


def test_a_confirmed_signal_nothing_backs_reads_as_watch_closely_not_as_a_warning(client, owner, huawei):
    """Level 2 does not flag: the account page, the list and its filter say "watch closely" in
    yellow, and only the churn warning (level 3) is red."""
    today = timezone.localdate()
    AccountWarning.objects.create(account=huawei, as_of=today, level=WarningLevel.WATCH_CLOSELY, evidence={
        "firing": ["login_drop"], "confirmed": ["login_drop"], "churn_risk": 0.15, "threshold": 0.2,
    })  # fmt: skip
    Account.objects.filter(pk=huawei.pk).update(warning_level=WarningLevel.WATCH_CLOSELY)
    html = page(client, owner, "web:account", huawei.pk)
    assert '<span class="badge yellow">重点关注</span>' in html and "这还不是流失预警" in html
    assert "badge red" not in html.split('data-testid="warning"')[1].split("</dd>")[0]
    english = page(client, owner, "web:account", huawei.pk, language="en")
    assert "Watch closely" in english and "This is not a churn warning." in english
    listing = page(client, owner, "web:accounts", warning=2)
    assert "华为技术有限公司" in listing and '<span class="badge yellow">重点关注</span>' in listing
    assert 'data-testid="warning-2"' in listing and "有风险" not in listing


def test_an_account_without_a_warning_says_so(client, owner, huawei):
    html = page(client, owner, "web:account", huawei.pk)
    assert "无预警：该客户没有触发任何预警信号。" in html


def test_the_accounts_list_filters_and_shows_the_warning_level(client, owner, warned, theirs, teammate):
    Account.objects.create(name="小米", sales_owner=owner, warning_level=WarningLevel.WATCH)
    html = page(client, owner, "web:accounts", warning=3)
    assert "华为技术有限公司" in html and "小米" not in html and "流失预警" in html
    html = page(client, owner, "web:accounts", warning=[1, 3])
    assert "华为技术有限公司" in html and "小米" in html and "关注" in html
    assert "华为技术有限公司" not in page(client, owner, "web:accounts", warning=1)


def test_the_timeline_shows_each_signal_in_the_users_language(client, owner, warned):
    html = page(client, owner, "web:account_timeline", warned.pk, kind="signal")
    assert "预警信号" in html and "流失风险高" in html and "付款逾期" in html
    assert not any(title in html for title in ENGLISH_TITLES)
    html = page(client, owner, "web:account_timeline", warned.pk, kind="signal", language="en")
    assert "High churn risk" in html and "A payment is overdue" in html


def test_my_work_names_the_open_signals_of_my_accounts_at_stake(client, owner, warned):
    owner.language = "zh-hans"
    owner.save()
    client.force_login(owner)
    response = client.get(reverse("web:home"))
    stakes = response.context["mine"].stakes
    assert [a.signal_titles for a, _ in stakes if a.pk == warned.pk] == [["付款逾期", "登录减半", "流失风险高"]]
    html = response.content.decode()
    assert "预警信号：付款逾期 · 登录减半 · 流失风险高" in html and "流失预警" in html


def test_the_api_keeps_the_kind_and_names_the_signal_in_the_requesters_language(api_as, owner, warned):
    zh = api_as(owner, language="zh-hans").get(f"/accounts/{warned.pk}/signals").json_body
    en = api_as(owner, language="en").get(f"/accounts/{warned.pk}/signals").json_body
    assert [(s["kind"], s["title"]) for s in zh] == [
        ("overdue_payment", "付款逾期"), ("login_drop", "登录减半"), ("churn_risk_high", "流失风险高")]
    assert en[2]["title"] == "High churn risk" and en[2]["explanation"].startswith("The churn model puts")
    body = api_as(owner, language="zh-hans").get(f"/accounts/{warned.pk}/warning").json_body
    assert (body["level"], body["level_key"], body["label"]) == (3, "high", "流失预警")
    assert body["evidence"]["confirmed"] == ["churn_risk_high"] and body["summary"].startswith("流失预警：")


def test_the_api_says_none_for_an_account_without_a_warning_and_404_for_one_not_visible(
    api_as, owner, huawei, theirs, team_visibility
):
    body = api_as(owner, language="en").get(f"/accounts/{huawei.pk}/warning").json_body
    assert (body["level"], body["level_key"], body["label"], body["as_of"]) == (0, "none", "No warning", None)
    assert api_as(owner).get(f"/accounts/{theirs.pk}/warning").status_code == 404


def test_a_case_opened_by_a_signal_names_it_in_the_users_language(client, owner, warned):
    from clm.automation import work

    signal = Signal.objects.get(account=warned, kind="churn_risk_high")
    case, _ = work.open_case(owner, account=warned, type="risk", reason="流失风险", owner=owner, signal=signal)
    html = page(client, owner, "web:case", case.pk)
    assert "流失风险高" in html and ENGLISH_TITLES[0] not in html


def test_a_case_opened_for_a_default_signal_kind_reads_its_name_on_the_account_page(client, owner, huawei):
    """The demo's win-back play opens its case with the reason `health_red` (a default signal kind):
    the account page's history named the case by that key."""
    from clm.automation import work

    work.open_case(owner, account=huawei, type="win_back", reason="health_red", owner=owner)
    zh = page(client, owner, "web:account", huawei.pk)
    en = page(client, owner, "web:account", huawei.pk, language="en")
    assert "health_red" not in zh and "health_red" not in en
    assert "健康度红色" in zh and "Health red" in en


def test_a_task_on_such_a_case_names_the_case_in_words_on_my_work(client, owner, huawei):
    """My work listed the demo's play tasks as "事项: login_drop" (the case's reason, a signal kind)."""
    from clm.automation import work

    case, _ = work.open_case(owner, account=huawei, type="win_back", reason="login_drop", owner=owner)
    work.create_task(owner, title="复盘近90天的工单", account=huawei, case=case, assignee=owner,
                     due_at=timezone.now() + dt.timedelta(days=1))
    zh = page(client, owner, "web:home")
    assert "复盘近90天的工单" in zh and "login_drop" not in zh and "登录减半" in zh


def test_a_signal_opened_before_any_churn_model_says_so_not_no_data(client, owner, huawei):
    """A usage rule's stored churn-risk ratio is missing when the signal opened before a churn
    model was trained (the demo's replayed year, a new workspace's first weeks): the page says
    why, in both languages, instead of a bare "no data"."""
    today = timezone.localdate()
    values = {"logins_30d_vs_baseline": -0.55, "logins_baseline_30d": 22.0, "churn_risk_over_threshold": None}
    Signal.objects.create(account=huawei, kind="login_drop", title=ENGLISH_TITLES[1], values=values,
                          last_values=values, opened_on=today - dt.timedelta(days=3), last_seen_on=today)
    html = page(client, owner, "web:account", huawei.pk)
    assert "流失风险相对预警阈值的倍数：未评分（当时尚未训练流失模型）" in html
    assert "流失风险相对预警阈值的倍数：无数据" not in html
    html = page(client, owner, "web:account", huawei.pk, language="en")
    assert "Churn risk as a multiple of the flag threshold: not scored (no churn model had been trained yet)" in html
