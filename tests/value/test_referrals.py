"""Referrals through their services (seed 003: 每成功推荐一个新客户签约……服务费减免): codes,
attribution from the API, an import's referral_code attribute and a web form; the reward by rule
on the loyalty ledger, once (also when two grant it at the same moment on PostgreSQL); the
advocates list and the referral KPIs on a hand-made world."""

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from clm.core import events
from clm.customers.models import Account, Contact
from clm.sales.models import Lead
from clm.service.models import SurveyResponse
from clm.value import services
from clm.value.models import CLVEstimate, LoyaltyEntry, Referral, ReferralReward, ReferralRule
from clm.value.services import advocacy, referrals
from tests.factories import make_account, new_subscription

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture
def referrer(owner):
    account = make_account("海尔智家", sales_owner=owner, customer_since=dt.date(2023, 1, 1), lifecycle_stage="mature")
    new_subscription(account, dt.date(2023, 1, 1), "2000.00")
    return account


def test_one_code_per_account_and_per_contact(owner, referrer):
    first = referrals.code_for(owner, referrer)
    assert referrals.code_for(owner, referrer) == first and len(first.code) == 8
    person = Contact.objects.create(account=referrer, name="李娜")
    theirs = referrals.code_for(owner, referrer, person)
    assert theirs != first and theirs.contact == person
    assert referrals.find_code(f" {first.code.lower()} ") == first


def test_an_unknown_code_and_self_referral_are_refused_by_name(owner, referrer):
    newcomer = make_account("新客户", sales_owner=owner)
    with pytest.raises(ValidationError, match="There is no referral code NOPE1234"):
        referrals.attribute(owner, "nope1234", account=newcomer, channel="api")
    code = referrals.code_for(owner, referrer)
    with pytest.raises(ValidationError, match="cannot refer itself"):
        referrals.attribute(owner, code.code, account=referrer, channel="api")
    old = make_account("老客户", sales_owner=owner, customer_since=dt.date(2020, 5, 1))
    with pytest.raises(ValidationError, match="customer since 2020-05-01"):
        referrals.attribute(owner, code.code, account=old, channel="api")
    assert not Referral.objects.exists()


def test_a_viewer_may_not_record_a_referral(viewer, owner, referrer):
    code = referrals.code_for(owner, referrer)
    with pytest.raises(PermissionDenied):
        referrals.attribute(viewer, code.code, account=make_account("x"), channel="api")


def test_attribution_fills_referred_by_and_refuses_a_second_referrer(owner, referrer):
    code = referrals.code_for(owner, referrer)
    newcomer = make_account("新客户", sales_owner=owner)
    referral = referrals.attribute(owner, code.code, account=newcomer, channel="api", via="api")
    newcomer.refresh_from_db()
    assert (referral.referrer, newcomer.referred_by_account) == (referrer, referrer)
    other = make_account("另一家", sales_owner=owner, customer_since=dt.date(2022, 1, 1))
    with pytest.raises(ValidationError, match="already referred by 海尔智家"):
        referrals.attribute(owner, referrals.code_for(owner, other).code, account=newcomer, channel="api")


def test_the_reward_is_granted_once_when_the_referred_customer_signs(owner, referrer, django_capture_on_commit_callbacks):
    # The default rule: a service credit of ¥500, booked as ⌈500 ÷ 1.0 credit per point⌉ = 500
    # points; cost = 500 points × ¥1.0 = ¥500.
    newcomer = make_account("新客户", sales_owner=owner)
    referral = referrals.attribute(owner, referrals.code_for(owner, referrer).code, account=newcomer, channel="api")
    with pytest.raises(ValidationError, match="has not signed yet"):
        referrals.grant_reward(referral)
    Account.objects.filter(pk=newcomer.pk).update(customer_since=dt.date(2026, 2, 1))
    heard = []
    events.listen("referral.rewarded")(heard.append)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            reward = referrals.grant_reward(referral, actor=owner, via="ui")
    finally:
        events.unlisten(heard.append)
    assert (reward.kind, reward.points, reward.cost, reward.granted_on) == (
        "service_credit", 500, Decimal("500.00"), dt.date(2026, 2, 1))
    assert services.balance(referrer) == 500
    assert LoyaltyEntry.objects.get(kind="referral").referred_account == newcomer
    assert heard[0].payload["referred_account_id"] == newcomer.pk
    with pytest.raises(ValidationError, match="already rewarded on 2026-02-01"):
        referrals.grant_reward(referral)
    assert ReferralReward.objects.count() == 1 and services.balance(referrer) == 500


def test_a_discount_rule_costs_its_percent_of_the_referrers_next_invoice(owner, referrer):
    # 10% off the next monthly invoice of a referrer paying MRR ¥2000: cost 0.10 × 2000 = ¥200.
    ReferralRule.objects.update(active=False)
    ReferralRule.objects.create(code="ten-off", kind="invoice_discount", name_en="10% off", name_zh="九折",
                                discount_percent=Decimal("10"))
    newcomer = make_account("新客户", sales_owner=owner, customer_since=dt.date(2026, 2, 1))
    referral = Referral.objects.create(referrer=referrer, referred_account=newcomer, channel="manual")
    reward = referrals.grant_reward(referral)
    assert (reward.points, reward.cost, reward.inputs["referrer_mrr"]) == (0, Decimal("200.00"), 2000.0)
    assert not LoyaltyEntry.objects.exists()


def test_the_daily_run_rewards_signed_referrals_in_bulk_once(owner, referrer):
    newcomer = make_account("新客户", sales_owner=owner, customer_since=dt.date(2026, 2, 1), referred_by_account=referrer)
    assert referrals.reward_signed({newcomer.pk: dt.date(2026, 2, 1)}) == 1
    assert referrals.reward_signed({newcomer.pk: dt.date(2026, 2, 1)}) == 0
    reward = ReferralReward.objects.get()
    assert (reward.referral.channel, reward.entry.points, reward.referral.signed_on) == ("record", 500, dt.date(2026, 2, 1))


def test_an_imported_referral_code_and_a_web_form_attribute_their_records(owner, referrer, django_capture_on_commit_callbacks):
    from clm.sales import services as sales

    code = referrals.code_for(owner, referrer).code
    imported = make_account("导入客户", custom={"referral_code": code})
    wrong = make_account("错码客户", custom={"referral_code": "ZZZZ9999"})
    assert referrals.attribute_imported() == 1
    assert Referral.objects.get(referred_account=imported).channel == "import"
    assert not Referral.objects.filter(referred_account=wrong).exists()
    assert referrals.unmatched(Account.objects.all()) == [(wrong, "ZZZZ9999")]  # left for someone to correct
    lead = Lead.objects.create(name="周杰", company="新公司", email="zhou@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        sales.record_form_submission(None, form="trial", email="zhou@example.com", fields={"referral_code": code})
    assert Referral.objects.get(lead=lead).channel == "form"


def test_an_import_with_a_referral_code_attributes_its_accounts_at_once(owner, referrer, tmp_path,
                                                                          django_capture_on_commit_callbacks):
    from clm.core.models import CustomField
    from tests.io.conftest import run, write_csv

    CustomField.objects.create(target="account", key="referral_code", label="推荐码", type="text")
    code = referrals.code_for(owner, referrer).code
    path = write_csv(tmp_path / "a.csv", [
        ["客户编号", "客户名称", "推荐码"], ["N1", "新导入客户", code.lower()], ["N2", "错码客户", "ZZZZ9999"]])
    dry = run("accounts", path, dry_run=True)
    assert dry.status == "dry_run" and not Referral.objects.exists()  # a dry run attributes nothing
    heard = []
    events.listen("referral.attributed")(heard.append)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            report = run("accounts", path)
    finally:
        events.unlisten(heard.append)
    assert report.status == "done", report.errors
    imported = Account.objects.get(external_id="N1")
    referral = Referral.objects.get(referred_account=imported)  # no daily run in between
    assert (referral.channel, referral.referrer, imported.referred_by_account) == ("import", referrer, referrer)
    assert [(e.payload["account_id"], e.payload["referrer_id"], e.payload["channel"]) for e in heard] == [
        (imported.pk, referrer.pk, "import")]
    assert not Referral.objects.filter(referred_account__external_id="N2").exists()  # left to correct
    again = run("accounts", path)
    assert again.status == "done" and Referral.objects.count() == 1


def test_advocates_are_healthy_promoters_worth_at_least_the_median(admin_user, referrer):
    stamp = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    promoter = make_account("推荐者", lifecycle_stage="growth", health_band="green", health_score=82)
    rich = make_account("高价值", lifecycle_stage="mature", health_band="green", health_score=88)
    poor = make_account("低价值推荐者", lifecycle_stage="mature", health_band="green", health_score=90)
    red = make_account("风险推荐者", lifecycle_stage="mature", health_band="red", health_score=40)
    was = make_account("曾是推荐者", lifecycle_stage="mature", health_band="green", health_score=85)
    for account, score, day in ((promoter, 9, 1), (poor, 10, 1), (red, 10, 1), (was, 10, 1), (was, 6, 2),
                                (referrer, 9, 1)):
        SurveyResponse.objects.create(account=account, kind="nps", score=score, responded_at=stamp.replace(day=day))
    # CLV: 1,000 · 2,000 · 500,000 · 800,000 · 900,000 · 950,000 → the median is 650,000
    for account, value in ((promoter, 900000), (rich, 950000), (poor, 1000), (red, 800000), (was, 500000),
                           (referrer, 2000)):
        CLVEstimate.objects.create(account=account, as_of=dt.date(2026, 1, 1), method="sbg", value=value,
                                   historical_value=0, future_value=value)
    Account.objects.filter(pk=referrer.pk).update(health_band="green", health_score=90)
    Referral.objects.create(referrer=promoter, referred_account=make_account("被推荐"), channel="manual")
    rows = advocacy.advocates(admin_user)
    # not the rich non-promoter, the poor or red promoters, the one whose latest answer is a 6,
    # nor the referrer below the median
    assert [r.account.name for r in rows] == ["推荐者"]
    assert rows[0].reasons == ["NPS 9: a promoter", "healthy (82)",
                               "CLV ¥900,000, at or above the customers' median of ¥650,000",
                               "has referred 1, 0 signed"]
    assert advocacy.advocate_ids([promoter.pk, rich.pk, poor.pk, red.pk, was.pk]) == {promoter.pk}


def test_referral_kpis_on_a_hand_made_world(admin_user, referrer):
    # New customers in January 2026: 5, of whom 2 came by referral → 2 ÷ 5 = 40% (seed 003: "超过40%").
    for i in range(5):
        account = make_account(f"新{i}", customer_since=dt.date(2026, 1, 10 + i))
        if i < 2:
            referral = Referral.objects.create(referrer=referrer, referred_account=account, channel="api",
                                               arrived_at=dt.datetime(2026, 1, 5, tzinfo=dt.UTC))
            referrals.grant_reward(referral)  # ¥500 each
            CLVEstimate.objects.create(account=account, as_of=dt.date(2026, 2, 1), method="sbg", value=20000,
                                       historical_value=0, future_value=20000)
    assert advocacy.referral_share(Account.objects.all(), dt.date(2026, 1, 1), dt.date(2026, 2, 1)) == (2, 5)
    # reward cost 2 × ¥500 = ¥1000 against the referred customers' CLV 2 × ¥20000 = ¥40000 (2.5%)
    assert advocacy.reward_cost_to_clv(Account.objects.all()) == (Decimal("1000.00"), Decimal("40000.00"))
    # 2 referrals in January from the one advocate (海尔智家: a healthy promoter at the median CLV) → 2 per advocate
    Account.objects.filter(pk=referrer.pk).update(health_band="green", health_score=88)
    SurveyResponse.objects.create(account=referrer, kind="nps", score=10, responded_at=dt.datetime(2026, 1, 2, tzinfo=dt.UTC))
    CLVEstimate.objects.create(account=referrer, as_of=dt.date(2026, 2, 1), method="sbg", value=90000,
                               historical_value=0, future_value=90000)
    assert advocacy.referrals_per_advocate(admin_user, dt.date(2026, 1, 1), dt.date(2026, 2, 1)) == (2, 1)


def test_two_grants_at_the_same_moment_reward_once(postgres_only, transactional_db, owner):
    referrer = make_account("并发推荐者", customer_since=dt.date(2023, 1, 1))
    newcomer = make_account("并发新客户", customer_since=dt.date(2026, 2, 1))
    referral = Referral.objects.create(referrer=referrer, referred_account=newcomer, channel="manual")
    barrier, outcomes = threading.Barrier(2), []

    def grant():
        from django.utils import translation

        try:
            translation.activate("en")
            barrier.wait()
            referrals.grant_reward(referral)
            outcomes.append("granted")
        except ValidationError as exc:
            outcomes.append(str(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=grant) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes)[0] == "granted" and "already rewarded" in sorted(outcomes)[1]
    assert ReferralReward.objects.count() == 1 and LoyaltyEntry.objects.filter(kind="referral").count() == 1
