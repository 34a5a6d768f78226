"""Deals by import: the owner's forecast call (recorded as every change of a call is), and deals
in custom pipelines named by key or name, with a clear error per row for an unknown one."""

import pytest

from clm.sales.models import ForecastCallChange, Opportunity
from tests.io.conftest import run

pytestmark = pytest.mark.django_db


@pytest.fixture
def accounts(files):
    rows = [["Account ID", "Account Name"], ["A1", "Account 1"], ["A2", "Account 2"]]
    assert run("accounts", files.csv("accounts.csv", rows)).status == "done"


def test_the_forecast_call_is_imported_in_either_language_and_its_changes_recorded(files, accounts, admin_user):
    header = ["商机编号", "客户编号", "商机名称", "阶段", "金额", "预测类别"]
    rows = [["OP1", "A1", "扩容", "方案报价", "10000", "承诺"], ["OP2", "A2", "续约", "Qualify", "500", "Best case"]]
    assert run("opportunities", files.csv("o.csv", [header, *rows]), user=admin_user).status == "done"
    assert dict(Opportunity.objects.values_list("external_id", "forecast_category")) == {"OP1": "commit", "OP2": "best_case"}
    rows[0][5] = "最佳情况"
    run("opportunities", files.csv("o.csv", [header, *rows]), user=admin_user)
    op1 = Opportunity.objects.get(external_id="OP1")
    assert list(ForecastCallChange.objects.filter(opportunity=op1).values_list("from_category", "to_category", "changed_by")) == [
        ("", "commit", admin_user.pk), ("commit", "best_case", admin_user.pk)]


def test_an_unknown_forecast_call_is_refused_on_its_row(files, accounts, admin_user):
    header = ["Opportunity ID", "Account ID", "Name", "Forecast Category"]
    report = run("opportunities", files.csv("o.csv", [header, ["OP1", "A1", "X", "certain"]]), user=admin_user)
    assert [(e["row"], e["column"]) for e in report.errors] == [(2, "Forecast Category")]
    assert "certain" in report.errors[0]["value"] + report.errors[0]["reason"] and "best_case" in report.errors[0]["reason"]
    assert not Opportunity.objects.exists()
