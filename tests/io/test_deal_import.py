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


@pytest.fixture
def enterprise(db):
    """A custom pipeline: 企业大单 (key enterprise) with stages poc (概念验证), tender, won, lost."""
    from clm.sales.models import Pipeline, PipelineStage
    from clm.sales.pipelines import install_built_in

    install_built_in()
    pipeline = Pipeline.objects.create(key="enterprise", name="企业大单", type="new")
    for order, (key, name, probability) in enumerate(
        [("poc", "概念验证", 20), ("tender", "招投标", 60), ("won", "", 100), ("lost", "", 0)]
    ):
        PipelineStage.objects.create(pipeline=pipeline, key=key, name=name, order=order, probability=probability)
    return pipeline


def test_deals_of_a_custom_pipeline_by_key_or_name_in_either_language(files, accounts, admin_user, enterprise):
    header = ["Opportunity ID", "Account ID", "Name", "Pipeline", "Stage"]
    rows = [
        ["OP1", "A1", "a", "enterprise", "poc"],  # keys
        ["OP2", "A1", "b", "企业大单", "招投标"],  # names as written
        ["OP3", "A2", "c", "Enterprise", "Closed Won"],  # a built-in stage by its English name
        ["OP4", "A2", "d", "", "方案报价"],  # no pipeline: the type's default, a built-in stage's Chinese alias
        ["OP5", "A2", "e", "新业务", "需求发现"],  # the built-in pipeline by its Chinese name
    ]
    report = run("opportunities", files.csv("o.csv", [header, *rows]), user=admin_user)
    assert report.errors == [] and report.created == 5
    got = {o.external_id: (o.pipeline.key, o.stage) for o in Opportunity.objects.select_related("pipeline")}
    assert got == {"OP1": ("enterprise", "poc"), "OP2": ("enterprise", "tender"), "OP3": ("enterprise", "won"),
                   "OP4": ("new-business", "proposal"), "OP5": ("new-business", "discovery")}  # fmt: skip


def test_unknown_pipelines_and_stages_are_refused_on_their_rows(files, accounts, admin_user, enterprise):
    header = ["Opportunity ID", "Account ID", "Name", "Pipeline", "Stage"]
    rows = [
        ["OP1", "A1", "a", "enterprise", "poc"],
        ["OP2", "A1", "b", "大客户", "poc"],  # no such pipeline
        ["OP3", "A2", "c", "enterprise", "negotiation"],  # a built-in stage the custom pipeline lacks
        ["OP4", "A2", "d", "", "poc"],  # a custom stage in the default pipeline
    ]
    report = run("opportunities", files.csv("o.csv", [header, *rows]), user=admin_user, skip_invalid=True)
    assert [(e["row"], e["column"]) for e in report.errors] == [(3, "Pipeline"), (4, "Stage"), (5, "Stage")]
    assert "enterprise" in report.errors[0]["reason"] or "企业大单" in report.errors[0]["reason"]
    assert "企业大单" in report.errors[1]["reason"] and "poc (概念验证)" in report.errors[1]["reason"]
    assert "qualify" in report.errors[2]["reason"]
    assert list(Opportunity.objects.values_list("external_id", flat=True)) == ["OP1"]
