"""Pipelines: built-in ones carry every existing deal unchanged; a stage's required fields are
enforced on every write path; the board, worked out by hand (the forecast: test_forecast_calls)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import translation

from clm.core import services
from clm.sales import pipelines
from clm.sales.models import Opportunity, Pipeline, PipelineStage
from tests.factories import make_account

pytestmark = pytest.mark.django_db


def deal(account, name, stage="qualify", amount=0, **fields):
    opp = services.create(Opportunity, {"account": account, "name": name, "amount": Decimal(amount), **fields})
    if stage != "qualify":
        opp = services.update(opp, {"stage": stage})
    return opp


def test_the_built_in_pipelines_hold_the_six_stages_and_every_deal_type_has_a_default():
    assert sorted(Pipeline.objects.filter(is_default=True).values_list("type", flat=True)) == [
        "expansion", "new", "renewal",
    ]  # fmt: skip
    stages = Pipeline.objects.get(key="new-business").stages.all()
    assert [(s.key, s.probability) for s in stages] == [
        ("qualify", 10), ("discovery", 25), ("proposal", 50), ("negotiation", 75), ("won", 100), ("lost", 0),
    ]  # fmt: skip
    with translation.override("en"):
        assert [s.label for s in stages][:2] == ["Qualify", "Discovery"]
    with translation.override("zh-hans"):
        assert [s.label for s in stages][:2] == ["资格确认", "需求发现"]


def test_a_deal_written_without_a_pipeline_joins_its_types_default(account):
    opp = deal(account, "Renewal 2027", type="renewal")
    assert opp.pipeline.key == "renewal"


def test_a_stage_outside_the_pipeline_is_refused_naming_the_stages(account):
    opp = deal(account, "A")
    with pytest.raises(ValidationError) as refused:
        services.update(opp, {"stage": "signed"})
    message = refused.value.message_dict["stage"][0]
    assert "signed" in message and "qualify, discovery, proposal, negotiation, won, lost" in message
    opp.refresh_from_db()
    assert opp.stage == "qualify"


def test_required_fields_of_the_stage_and_the_stages_before_it(account):
    new = Pipeline.objects.get(key="new-business")
    PipelineStage.objects.filter(pipeline=new, key="proposal").update(required_fields=["amount"])
    PipelineStage.objects.filter(pipeline=new, key="negotiation").update(required_fields=["expected_close"])
    PipelineStage.objects.filter(pipeline=new, key="lost").update(required_fields=["lost_reason"])
    opp = deal(account, "B")
    with pytest.raises(ValidationError) as refused, translation.override("en"):
        services.update(opp, {"stage": "negotiation"})
    # negotiation needs its own close date and the proposal's amount
    assert set(refused.value.message_dict) == {"amount", "expected_close"}
    assert "Proposal" in refused.value.message_dict["amount"][0]
    opp = services.update(opp, {"stage": "negotiation", "amount": Decimal(9000), "expected_close": dt.date(2027, 3, 1)})
    assert opp.stage == "negotiation"
    # lost asks only for its own field, not the open stages' ones
    other = deal(account, "C")
    with pytest.raises(ValidationError) as refused:
        services.update(other, {"stage": "lost"})
    assert set(refused.value.message_dict) == {"lost_reason"}
    assert services.update(other, {"stage": "lost", "lost_reason": "价格"}).stage == "lost"


def test_a_pipeline_must_end_in_won_and_lost():
    with pytest.raises(ValidationError) as refused:
        pipelines.check_stages([{"key": "qualify", "order": 0}, {"key": "won", "order": 1}])
    assert "lost" in " ".join(refused.value.messages)
    with pytest.raises(ValidationError):
        pipelines.check_stages([{"key": "won", "order": 0}, {"key": "qualify", "order": 1}, {"key": "lost", "order": 2}])
    with pytest.raises(ValidationError):
        pipelines.check_stages([{"key": "won", "order": 0}, {"key": "lost", "order": 1}])
    pipelines.check_stages([{"key": "demo", "order": 0}, {"key": "won", "order": 1}, {"key": "lost", "order": 2}])


def test_unknown_required_fields_are_refused():
    stage = PipelineStage(pipeline=Pipeline.objects.first(), key="x", order=9, probability=5, required_fields=["budget"])
    with pytest.raises(ValidationError) as refused:
        stage.full_clean()
    assert "budget" in refused.value.message_dict["required_fields"][0]


def test_move_checks_permission_and_visibility(owner, outsider, viewer, team_visibility):
    account = make_account("Acme", sales_owner=owner)
    opp = deal(account, "D")
    assert pipelines.move(owner, opp, "discovery").stage == "discovery"
    with pytest.raises(PermissionDenied):
        pipelines.move(outsider, opp, "proposal")
    with pytest.raises(PermissionDenied):
        pipelines.move(viewer, opp, "proposal")
    history = list(opp.stage_history.values_list("from_stage", "to_stage", "changed_by"))
    assert history == [("", "qualify", None), ("qualify", "discovery", owner.pk)]


def test_board_columns_amounts_and_days_in_stage(owner, outsider, team_visibility):
    """Worked by hand: two open deals in proposal (5,000 and 3,000 → 8,000, weighted 50% → 4,000),
    one in qualify (1,000, weighted 100), one won within 30 days, one lost 40 days ago (left off),
    and another team's deal the rep does not see."""
    today = dt.date(2026, 12, 7)
    mine = make_account("Mine", sales_owner=owner)
    theirs = make_account("Theirs", sales_owner=outsider)
    deal(mine, "P1", "proposal", 5000)
    deal(mine, "P2", "proposal", 3000)
    deal(mine, "Q1", "qualify", 1000)
    deal(mine, "W1", "won", 2000, closed_on=today - dt.timedelta(days=3))
    deal(mine, "L1", "lost", 700, lost_reason="预算", closed_on=today - dt.timedelta(days=40))
    deal(theirs, "X", "proposal", 99999)
    board = pipelines.board(owner, Pipeline.objects.get(key="new-business"), today=today)
    columns = {c.stage.key: c for c in board.columns}
    assert [d.opportunity.name for d in columns["proposal"].deals] == ["P1", "P2"]
    assert columns["proposal"].amount == Decimal(8000) and columns["proposal"].weighted == Decimal(4000)
    assert columns["qualify"].weighted == Decimal(100)
    assert [d.opportunity.name for d in columns["won"].deals] == ["W1"]
    assert columns["lost"].deals == []
    assert all(d.days_in_stage >= 0 for c in board.columns for d in c.deals)


def test_the_api_lists_pipelines_shows_the_board_and_moves_a_deal(owner, outsider, team_visibility, api_as):
    PipelineStage.objects.filter(pipeline__key="new-business", key="proposal").update(required_fields=["amount"])
    account = make_account("Acme", sales_owner=owner)
    opp = deal(account, "E", "discovery")
    api = api_as(owner, language="en")
    listed = api.get("/pipelines").json_body
    assert [p["key"] for p in listed] == ["new-business", "renewal", "expansion"]
    assert listed[0]["stages"][2] == {
        "key": "proposal", "label": "Proposal", "order": 2, "probability": 50, "required_fields": ["amount"],
    }  # fmt: skip
    refused = api.post(f"/opportunities/{opp.pk}/move", {"stage": "proposal"})
    assert refused.status_code == 422
    assert refused.json_body["error"]["details"][0]["loc"] == ["amount"]
    moved = api.post(f"/opportunities/{opp.pk}/move", {"stage": "proposal", "amount": "12000"})
    assert moved.status_code == 200 and moved.json_body["stage"] == "proposal"
    board = api.get("/pipelines/new-business/board").json_body
    proposal = next(c for c in board["columns"] if c["stage"]["key"] == "proposal")
    assert (proposal["count"], proposal["amount"], proposal["weighted"]) == (1, "12000.00", "6000.00")
    assert api_as(outsider).post(f"/opportunities/{opp.pk}/move", {"stage": "won"}).status_code == 404
    assert api.get("/pipelines/nothing/board").status_code == 404


def test_process_analytics_page_and_api_by_owner(owner, teammate, api_as, client):
    """Two deals of the owner (one won after proposal, one lost in discovery) and one of the
    teammate (open in qualify): all deals win 1 of 2 closed; by owner, the owner's row wins 1/2."""
    account = make_account("Acme", sales_owner=owner)
    deal(account, "won", "proposal", 5000, owner=owner)
    won = Opportunity.objects.get(name="won")
    services.update(won, {"stage": "won"})
    lost = deal(account, "lost", "discovery", 100, owner=owner)
    services.update(lost, {"stage": "lost", "lost_reason": "预算"})
    deal(account, "open", "qualify", 0, owner=teammate)
    today = dt.date.today()
    rows = api_as(owner, language="en").get(
        "/pipelines/new-business/analytics", start=str(today - dt.timedelta(days=30)), end=str(today)
    ).json_body
    assert rows[0]["label"] == "All deals" and (rows[0]["deals"], rows[0]["won"], rows[0]["lost"]) == (3, 1, 1)
    mine = next(r for r in rows if r["group"] == str(owner.pk))
    assert mine["win_rate"] == 0.5 and mine["avg_won"] == 5000.0
    assert mine["stages"][0] | {"days": round(mine["stages"][0]["days"])} == {
        "stage": "qualify", "reached": 2, "conversion": 1.0, "days": 0,
    }  # fmt: skip
    assert api_as(owner).get("/pipelines/new-business/analytics", start="2026-01-01", end="2026-02-01",
                             by="planet").status_code == 400  # fmt: skip
    client.force_login(owner)
    page = client.get("/pipeline/analytics/?by=industry&months=6", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Sales process: New business" in page and "50%" in page
