"""Conversion: matched against existing accounts by domain, name and pinyin, with a preview; never
a duplicate; merged only into an account the user may see; the deal won makes a customer."""

import pytest
from django.core.exceptions import ValidationError

from clm.customers.models import Account, Contact
from clm.customers.services import fill_search_keys
from clm.sales import conversion
from clm.sales.models import Lead, Opportunity
from tests.factories import make_account
from tests.sales.conftest import make_lead

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("name", "core", "key"), [
    ("华为技术有限公司", "华为", "huawei"),
    ("华为", "华为", "huawei"),
    ("Huawei Technologies Co., Ltd.", "huawei", "huawei"),
    ("苏州精工制造股份有限公司", "苏州精工制造", "suzhoujinggongzhizao"),
])
def test_company_names_reduce_to_their_core(name, core, key):
    assert conversion.core_name(name) == core
    assert conversion.name_key(name) == key


def test_huawei_is_one_company_under_three_spellings(owner):
    huawei = make_account("华为", sales_owner=owner)
    fill_search_keys()
    for company, email in (("华为技术有限公司", "li@qq.com"), ("Huawei", "li@gmail.com")):
        found = conversion.matches(make_lead(company=company, email=email, owner=owner))
        assert [(m["account"], m["by"]) for m in found] == [(huawei, "name" if company.startswith("华") else "pinyin")]
    by_domain = make_account("某某公司", domain="huawei.com")
    found = conversion.matches(make_lead(company="HW", email="li@huawei.com"))
    assert found[0] == {"account": by_domain, "by": "domain"}


def test_preview_fills_only_empty_fields_and_finds_the_contact(owner):
    huawei = make_account("华为技术有限公司", sales_owner=owner, industry="通信")
    Contact.objects.create(account=huawei, name="李娜", email="lina@huawei.com")
    fill_search_keys()
    lead = make_lead(company="华为", email="lina@huawei.com", industry="制造业", region="华南", owner=owner)
    preview = conversion.preview(owner, lead)
    match = preview["matches"][0]
    # the account's industry is kept (通信); its empty region and head count are filled
    assert match["account"] == huawei and match["fills"] == {"region": "华南", "employee_count": 300}
    assert match["contact"].email == "lina@huawei.com"


def test_a_new_account_is_refused_when_one_matches(owner):
    make_account("华为", sales_owner=owner)
    fill_search_keys()
    lead = make_lead(company="华为技术有限公司", owner=owner)
    with pytest.raises(ValidationError, match="华为"):
        conversion.convert_lead(owner, lead, new_account=True)
    assert Account.objects.count() == 1 and Lead.objects.get(pk=lead.pk).status == Lead.Status.MAL


def test_merging_into_an_account_the_user_cannot_see_is_refused(owner, outsider, team_visibility):
    hidden = make_account("华为", sales_owner=outsider)
    fill_search_keys()
    lead = make_lead(company="华为技术有限公司", owner=owner)
    assert conversion.preview(owner, lead) == {"matches": [], "hidden": 1}
    with pytest.raises(ValidationError, match="may see"):
        conversion.convert_lead(owner, lead, account_id=hidden.pk)
    with pytest.raises(ValidationError, match="may not see"):
        conversion.convert_lead(owner, lead, new_account=True)
    assert Lead.objects.get(pk=lead.pk).account is None


def test_merge_creates_contact_and_deal_and_winning_it_makes_a_customer(owner, django_capture_on_commit_callbacks):
    huawei = make_account("华为", sales_owner=owner)
    fill_search_keys()
    lead = make_lead(company="华为技术有限公司", owner=owner, status=Lead.Status.SQL)
    with django_capture_on_commit_callbacks(execute=True):
        lead = conversion.convert_lead(owner, lead, account_id=huawei.pk, amount=120000)
    assert (lead.status, lead.account) == (Lead.Status.OPPORTUNITY, huawei)
    assert lead.contact.email == "wang@jinggong.cn" and lead.contact.account == huawei
    deal = Opportunity.objects.get(account=huawei)
    assert deal.amount == 120000 and deal.owner == owner
    assert Account.objects.get(pk=huawei.pk).industry == "制造业"  # filled, it was empty
    assert list(lead.stage_history.values_list("to_status", flat=True)) == ["opportunity"]
    from clm.core import services as core_services

    with django_capture_on_commit_callbacks(execute=True):
        core_services.update(deal, {"stage": Opportunity.Stage.WON}, actor=owner)
    lead.refresh_from_db()
    assert lead.status == Lead.Status.CONVERTED and lead.converted_at is not None


def test_a_new_company_becomes_a_new_account(owner):
    lead = make_lead(company="杭州云栖软件有限公司", email="a@yunqi.cn", owner=owner, status=Lead.Status.SQL)
    lead = conversion.convert_lead(owner, lead, new_account=True)
    account = lead.account
    assert (account.name, account.domain, account.industry, account.sales_owner) == (
        "杭州云栖软件有限公司", "yunqi.cn", "制造业", owner)
    with pytest.raises(ValidationError, match="open lead"):
        conversion.convert_lead(owner, lead, new_account=True)
