"""Accounts imported with their custom attributes (checked by the registry's rules), tags from
the tag library, the referring contact, and the export that imports back."""

import json

import pytest

from clm.core.models import AuditLog, CustomField
from clm.customers.models import Account, Contact, Tag, TagCategory
from clm.io.export import export_file
from tests.io.conftest import run

pytestmark = pytest.mark.django_db


@pytest.fixture
def registry():
    CustomField.objects.create(target="account", key="erp", label="ERP系统", type="text")
    CustomField.objects.create(target="account", key="lines", label="产线数量", type="number")
    CustomField.objects.create(target="account", key="tier", label="Tier", type="choice", choices=["gold", "silver"])
    CustomField.objects.create(target="account", key="audited_on", label="审计日期", type="date")


def test_each_custom_attribute_has_its_own_column(files, registry):
    path = files.csv("a.csv", [
        ["客户编号", "客户名称", "ERP系统", "产线数量", "tier", "审计日期"],
        ["A1", "华为", "SAP", "12", "Gold", "2024/3/1"],
        ["A2", "Acme", "", "3.5", "silver", ""],
    ])
    report = run("accounts", path)
    assert report.status == "done", report.errors
    assert Account.objects.get(external_id="A1").custom == {"erp": "SAP", "lines": 12.0, "tier": "gold", "audited_on": "2024-03-01"}
    assert Account.objects.get(external_id="A2").custom == {"erp": None, "lines": 3.5, "tier": "silver", "audited_on": None}


def test_a_column_sets_its_attribute_and_keeps_the_others(files, registry):
    Account.objects.create(name="华为", source="import", external_id="A1", custom={"erp": "SAP", "lines": 12.0})
    report = run("accounts", files.csv("a.csv", [["客户编号", "客户名称", "产线数量"], ["A1", "华为", "14"]]))
    assert (report.status, report.updated) == ("done", 1)
    assert Account.objects.get(external_id="A1").custom == {"erp": "SAP", "lines": 14.0}
    again = run("accounts", files.csv("a.csv", [["客户编号", "客户名称", "产线数量"], ["A1", "华为", "14"]]))
    assert (again.updated, again.unchanged) == (0, 1)


def test_bad_custom_values_are_named_by_row_and_column(files, registry):
    path = files.csv("a.csv", [
        ["客户编号", "客户名称", "产线数量", "Tier", "Custom Attributes"],
        ["A1", "华为", "many", "gold", ""],
        ["A2", "Acme", "1", "bronze", ""],
        ["A3", "Foo", "1", "gold", '{"colour": "red"}'],
    ])
    report = run("accounts", path)
    assert report.status == "invalid" and Account.objects.count() == 0
    found = {(e["row"], e["column"]) for e in report.errors}
    assert found == {(2, "产线数量"), (3, "Tier"), (4, "Custom Attributes")}
    reasons = {e["row"]: e["reason"] for e in report.errors}
    assert "is not a number" in reasons[2]
    assert "is not one of the allowed values: gold, silver" in reasons[3]
    assert "unknown custom attribute 'colour'" in reasons[4]


def test_the_referring_contact_is_imported(files):
    other = Account.objects.create(name="Acme", source="import", external_id="A9")
    Contact.objects.create(account=other, name="李雷", source="import", external_id="C1")
    path = files.csv("a.csv", [["客户编号", "客户名称", "推荐人"], ["A1", "华为", "C1"], ["A2", "远山", "C404"]])
    report = run("accounts", path, skip_invalid=True)
    assert Account.objects.get(external_id="A1").referred_by_contact.external_id == "C1"
    assert [(e["row"], e["column"], e["reason"]) for e in report.errors] == [(3, "推荐人", "no contact with this id or name")]


def test_an_export_with_custom_attributes_imports_back_unchanged(files, registry, tmp_path):
    run("accounts", files.csv("a.csv", [["客户编号", "客户名称", "ERP系统", "产线数量"], ["A1", "华为", "SAP", "12"]]))
    export_file("accounts", tmp_path / "out.csv")
    exported = (tmp_path / "out.csv").read_text(encoding="utf-8-sig")
    assert json.dumps({"erp": "SAP", "lines": 12.0}, ensure_ascii=False).replace('"', '""') in exported
    again = run("accounts", tmp_path / "out.csv")
    assert (again.status, again.unchanged, again.updated) == ("done", 1, 0)


@pytest.fixture
def tag_library():
    automation = TagCategory.objects.create(name="产线自动化率")
    industry = TagCategory.objects.create(name="行业")
    return {
        "high": Tag.objects.create(category=automation, value="高"),
        "low": Tag.objects.create(category=automation, value="低"),
        "steel": Tag.objects.create(category=industry, value="钢铁"),
        "high_industry": Tag.objects.create(category=industry, value="高"),  # the value 高 is in two categories
    }


def test_tags_are_taken_from_the_tag_library(files, tag_library):
    path = files.csv("a.csv", [["客户编号", "客户名称", "标签"], ["A1", "华为", "产线自动化率：高; 钢铁"], ["A2", "Acme", ""]])
    report = run("accounts", path)
    assert report.status == "done", report.errors
    assert set(Account.objects.get(external_id="A1").tags.all()) == {tag_library["high"], tag_library["steel"]}
    assert not Account.objects.get(external_id="A2").tags.exists()


def test_unknown_or_ambiguous_tags_are_refused_not_created(files, tag_library):
    path = files.csv("a.csv", [["客户编号", "客户名称", "标签"], ["A1", "华为", "高"], ["A2", "Acme", "行业:石油"]])
    report = run("accounts", path)
    assert report.status == "invalid" and Tag.objects.count() == 4
    reasons = {e["row"]: e["reason"] for e in report.errors}
    assert reasons == {
        2: "'高' names tags of several categories: write category:value",
        3: "'行业:石油' is not in the tag library (write category:value)",
    }


def test_retagging_replaces_the_tags_audits_it_and_a_reimport_changes_nothing(files, tag_library):
    account = Account.objects.create(name="华为", source="import", external_id="A1")
    account.tags.add(tag_library["low"], tag_library["steel"])
    path = files.csv("a.csv", [["客户编号", "客户名称", "标签"], ["A1", "华为", "产线自动化率:高; 行业:钢铁"]])
    report = run("accounts", path)
    assert (report.updated, report.unchanged) == (1, 0)
    assert set(account.tags.all()) == {tag_library["high"], tag_library["steel"]}
    entry = AuditLog.objects.get(action="update", object_id=str(account.pk))
    assert entry.changes == {"tags": [sorted([tag_library["low"].pk, tag_library["steel"].pk]),
                                      sorted([tag_library["high"].pk, tag_library["steel"].pk])]}
    again = run("accounts", path)
    assert (again.updated, again.unchanged) == (0, 1)


def test_an_export_with_tags_imports_back_unchanged(files, tag_library, tmp_path):
    run("accounts", files.csv("a.csv", [["客户编号", "客户名称", "标签"], ["A1", "华为", "产线自动化率:高、行业:钢铁"]]))
    export_file("accounts", tmp_path / "out.csv")
    assert "产线自动化率:高; 行业:钢铁" in (tmp_path / "out.csv").read_text(encoding="utf-8-sig")
    again = run("accounts", tmp_path / "out.csv")
    assert (again.status, again.unchanged, again.updated) == ("done", 1, 0)
