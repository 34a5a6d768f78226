"""Headers recognised: Chinese and English names, Salesforce's and HubSpot's exports; explicit
and saved mappings; missing required columns named before any row is read."""

import pytest

from clm.customers.models import Account
from clm.io.kinds import KINDS, get_kind, token
from clm.io.mapping import MappingError, map_columns, parse_map_options
from clm.io.models import ImportMapping
from tests.io.conftest import run


def fields(kind, header, explicit=None):
    mapping = map_columns(get_kind(kind), header, explicit)
    return {mapping.header[pos]: f.name for pos, f in mapping.columns.items()}, mapping


def test_no_column_name_means_two_fields_of_one_kind():
    for kind in KINDS.values():
        seen = {}
        for f in kind.fields:
            for t in set(f.tokens):
                assert t not in seen or seen[t] == f.name, f"{kind.name}: {t!r} names {seen.get(t)} and {f.name}"
                seen[t] = f.name


def test_salesforce_account_export():
    header = ["Account ID", "Account Name", "Billing City", "Billing State/Province", "Industry", "Annual Revenue",
              "Employees", "Website", "Account Owner", "Billing Street", "Type"]
    mapped, mapping = fields("accounts", header)
    assert mapped == {
        "Account ID": "external_id", "Account Name": "name", "Billing City": "city",
        "Billing State/Province": "province", "Industry": "industry", "Annual Revenue": "annual_revenue",
        "Employees": "employee_count", "Website": "domain", "Account Owner": "sales_owner",
    }
    assert mapping.ignored == ["Billing Street", "Type"] and mapping.problems == []


def test_hubspot_company_export():
    header = ["Record ID", "Company name", "Company Domain Name", "City", "State/Region", "Number of Employees",
              "Industry", "Annual Revenue", "Company owner", "Create Date"]
    mapped, mapping = fields("accounts", header)
    assert mapped == {
        "Record ID": "external_id", "Company name": "name", "Company Domain Name": "domain", "City": "city",
        "State/Region": "province", "Number of Employees": "employee_count", "Industry": "industry",
        "Annual Revenue": "annual_revenue", "Company owner": "sales_owner",
    }


def test_salesforce_and_hubspot_contact_exports():
    sf, _ = fields("contacts", ["Contact ID", "Account ID", "Account Name", "First Name", "Last Name", "Title", "Email", "Phone"])
    assert sf == {"Contact ID": "external_id", "Account ID": "account", "First Name": "first_name",
                  "Last Name": "last_name", "Title": "title", "Email": "email", "Phone": "phone"}
    hs, _ = fields("contacts", ["Record ID", "First Name", "Last Name", "Email", "Phone Number", "Job Title", "Associated Company"])
    assert hs["Record ID"] == "external_id" and hs["Job Title"] == "title" and hs["Associated Company"] == "account"
    assert hs["Phone Number"] == "phone"


def test_chinese_headers_with_spaces_case_and_full_width_characters():
    mapped, mapping = fields("accounts", ["客户编号", " 客户 名称 ", "行业", "员工人数", "年营收", "省份", "城市", "区域", "ＩＤ"])
    assert mapped == {"客户编号": "external_id", " 客户 名称 ": "name", "行业": "industry", "员工人数": "employee_count",
                      "年营收": "annual_revenue", "省份": "province", "城市": "city", "区域": "region"}
    assert mapping.ignored == ["ＩＤ"]  # an id column is already mapped
    assert token("Billing State/Province") == token("billing_state-province")


@pytest.mark.parametrize(
    ("kind", "header", "field"),
    [
        ("contacts", "联系人", "name"), ("contacts", "邮箱", "email"), ("contacts", "电话", "phone"),
        ("contacts", "职位", "title"), ("contacts", "角色", "role"), ("subscriptions", "合同编号", "external_id"),
        ("subscriptions", "开始日期", "start_date"), ("subscriptions", "结束日期", "end_date"),
        ("subscriptions", "月费", "mrr"), ("subscriptions", "座席数", "seats"), ("orders", "订单号", "external_id"),
        ("orders", "下单日期", "ordered_on"), ("orders", "金额", "amount"), ("orders", "成本", "cost"),
        ("orders", "产品", "product"), ("orders", "数量", "quantity"), ("payments", "到期日", "due_on"),
        ("payments", "付款日期", "paid_on"), ("payments", "状态", "status"), ("tickets", "工单号", "external_id"),
        ("tickets", "优先级", "priority"), ("tickets", "满意度", "csat"), ("survey_responses", "评分", "score"),
        ("leads", "Lead Status", "status"), ("opportunities", "Close Date", "expected_close"),
        ("opportunities", "Stage", "stage"), ("channel_spend", "月份", "month"), ("usage_events", "时间", "occurred_at"),
    ],
)
def test_chinese_and_crm_column_names(kind, header, field):
    mapped, _ = fields(kind, [header])
    assert mapped == {header: field}


def test_missing_required_columns_are_all_named_before_any_row_is_read():
    _, mapping = fields("subscriptions", ["合同编号", "备注"])
    assert mapping.problems == [
        "missing required column 'Account' (also recognised: 'account', 'account id', 'account external id', 'company id', ...)",
        "missing required column 'Start Date' (also recognised: 'contract start date', 'start', '开始日期', '生效日期', ...)",
        "missing required column 'MRR' (or 'ARR')",
    ]


def test_an_explicit_mapping_wins_and_can_skip_a_column():
    mapped, _ = fields("accounts", ["Kunde", "Firma", "Industry"], {"Kunde": "external_id", "Firma": "name", "Industry": ""})
    assert mapped == {"Kunde": "external_id", "Firma": "name"}


def test_an_explicit_mapping_must_name_real_fields_and_columns():
    with pytest.raises(MappingError, match="'colour' is not a field of accounts"):
        map_columns(get_kind("accounts"), ["id", "x"], {"x": "colour"})
    with pytest.raises(MappingError, match="the file does not have"):
        map_columns(get_kind("accounts"), ["id"], {"Nope": "name"}, strict=("Nope",))
    with pytest.raises(MappingError, match='write it as "File Column=field"'):
        parse_map_options(["no equals sign"])


@pytest.mark.django_db
def test_a_mapping_saved_from_a_run_is_reused_by_name(files):
    first = files.csv("erp.csv", [["Kunde", "Firma", "Ort"], ["K1", "Acme", "Berlin"]])
    report = run("accounts", first, columns={"Kunde": "external_id", "Firma": "name", "Ort": "city"}, save_mapping="erp")
    assert report.status == "done"
    assert ImportMapping.objects.get(kind="accounts", name="erp").columns == {"Kunde": "external_id", "Firma": "name", "Ort": "city"}
    second = files.csv("erp2.csv", [["Kunde", "Firma", "Ort"], ["K2", "Beta", "Hamburg"]])
    assert run("accounts", second, mapping_name="erp").status == "done"
    assert Account.objects.get(external_id="K2").city == "Hamburg"


@pytest.mark.django_db
def test_an_unknown_saved_mapping_is_a_clear_error(files):
    report = run("accounts", files.csv("a.csv", [["id", "name"], ["1", "x"]]), mapping_name="nope")
    assert report.status == "invalid" and report.problems == ["no saved mapping 'nope' for accounts (saved: none)"]
