"""The win-back, referral and reactivation pages through the test client: what they show, the
steps taken from the forms (a refusal comes back in the form, filled, with a 422), visibility, and
the account page's panel."""

import datetime as dt
import re
from decimal import Decimal

import pytest

from clm.automation import winback
from clm.automation.models import WinBack
from clm.customers.models import Account
from clm.service.models import SurveyResponse
from clm.value.models import CLVEstimate, Referral, ReferralCode, TierAssignment
from tests.factories import make_user, new_subscription

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("root_causes")]  # a browser test may have flushed them


@pytest.fixture
def churned(owner):
    account = Account.objects.create(name="华润万家", sales_owner=owner, lifecycle_stage="churned",
                                     lifecycle_stage_since=dt.date.today() - dt.timedelta(days=30))
    TierAssignment.objects.create(account=account, as_of=dt.date.today(), tier="t", tier_label="t", tenure_years=2,
                                  total_revenue=Decimal("240000"))
    new_subscription(account, dt.date(2024, 1, 1), "1000.00")
    return account


def test_the_win_back_page_lists_churned_accounts_and_starts_a_win_back(signed_in, churned):
    page = signed_in.get("/winback/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "华润万家" in text and "Churned accounts to win back" in text
    started = signed_in.post(f"/winback/start/{churned.pk}/")
    wb = WinBack.objects.get(account=churned)
    assert started.status_code == 302 and started["Location"] == f"/winback/{wb.pk}/"
    detail = signed_in.get(f"/winback/{wb.pk}/").content.decode()
    assert "Analyse the root cause" in detail and 'data-testid="save-cause"' in detail


def test_the_steps_from_the_forms_and_a_refused_discount_comes_back_filled(signed_in, churned, owner):
    wb = winback.open_winback(owner, account=churned, signal="churned")
    assert signed_in.post(f"/winback/{wb.pk}/cause/", {"cause": "price", "note": "太贵"}).status_code == 302
    later = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    refused = signed_in.post(f"/winback/{wb.pk}/plan/", {
        "offer": "renewal-discount", "discount_percent": "25", "evaluate_on": later, "note": "老客户"})
    assert refused.status_code == 422
    body = refused.content.decode()
    assert "name the manager who approved it" in body and 'value="25"' in body
    manager = make_user("boss", "Manager")
    ok = signed_in.post(f"/winback/{wb.pk}/plan/", {
        "offer": "renewal-discount", "discount_percent": "25", "approver": manager.pk, "evaluate_on": later})
    assert ok.status_code == 302
    wb.refresh_from_db()
    assert (wb.step, wb.approved_by) == ("plan", manager)
    early = signed_in.post(f"/winback/{wb.pk}/evaluate/", {"result": "renewed"})
    assert early.status_code == 422 and "not before" in early.content.decode()


def test_someone_who_cannot_see_the_account_gets_a_404(client, churned, owner, outsider, team_visibility):
    wb = winback.open_winback(owner, account=churned, signal="churned")
    client.force_login(outsider)
    assert client.get(f"/winback/{wb.pk}/").status_code == 404
    assert "华润万家" not in client.get("/winback/").content.decode()


def test_the_referrals_and_reactivation_pages_and_the_account_panel(signed_in, owner, churned):
    promoter = Account.objects.create(name="推荐者", sales_owner=owner, lifecycle_stage="growth", health_band="green",
                                      health_score=84)
    CLVEstimate.objects.create(account=promoter, as_of=dt.date(2026, 1, 1), method="sbg", value=80000,
                               historical_value=0, future_value=80000)
    SurveyResponse.objects.create(account=promoter, kind="nps", score=10, responded_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    page = signed_in.get("/referrals/").content.decode()
    assert "推荐者" in page and "NPS 10: a promoter" in page
    assert signed_in.post(f"/accounts/{promoter.pk}/referral-code/").status_code == 302
    code = ReferralCode.objects.get(account=promoter).code
    panel = signed_in.get(f"/accounts/{promoter.pk}/programmes/").content.decode()
    assert code in panel
    Account.objects.filter(pk=churned.pk).update(lifecycle_stage="dormant")
    dormant = signed_in.get("/reactivation/").content.decode()
    assert "华润万家" in dormant and "Past revenue" in dormant
    assert not Referral.objects.exists()


def test_the_chinese_pages_have_no_raw_keys(client, owner, churned):
    owner.language = "zh-hans"
    owner.save()
    client.force_login(owner)
    winback.open_winback(owner, account=churned, signal="churned")
    for url in ("/winback/", "/referrals/", "/reactivation/", f"/winback/{WinBack.objects.get().pk}/"):
        text = re.sub(r"<[^>]+>", " ", client.get(url).content.decode())
        assert not re.search(r"\b(win_back|service_credit|business_budget|in_progress|at_risk)\b", text), url


def test_the_menu_has_one_entry_for_the_programmes_and_its_page_leads_to_each(client, owner):
    client.force_login(owner)
    page = client.get("/programmes/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    for url in ("/success/", "/winback/", "/referrals/", "/reactivation/"):
        assert f'href="{url}"' in page
    assert 'data-testid="nav-programmes" aria-current="page"' not in page  # the attribute comes first
    assert 'aria-current="page" data-testid="nav-programmes"' in page
    chinese = client.get("/winback/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert 'aria-current="page" data-testid="nav-programmes">客户成功</a>' in chinese


def test_the_referrals_page_lists_accounts_whose_referral_code_matches_none(signed_in, owner):
    """An import's unknown referral code was skipped silently: the page names the account and the code."""
    Account.objects.create(name="错码客户", sales_owner=owner, custom={"referral_code": " zz99 "})
    page = signed_in.get("/referrals/").content.decode()
    assert "1 account arrived with a referral code that matches none" in page
    assert "错码客户" in page and "<code>ZZ99</code>" in page

