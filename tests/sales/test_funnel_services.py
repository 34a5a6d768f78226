"""The lead funnel's operations: scores with what they were made of, automatic and manual moves
with their history and events, engagement, assignment and reassignment."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from clm.core.events import listen
from clm.sales import assignment, funnel, reports, scoring
from clm.sales.models import AssignmentRule, Lead, LeadStageChange
from tests.sales.conftest import make_lead

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard():
    got = []

    @listen("lead.stage_changed", "lead.fit_changed", "lead.assigned")
    def hear(event):
        got.append((event.name, event.payload))

    yield got
    from clm.core import events

    for name in ("lead.stage_changed", "lead.fit_changed", "lead.assigned"):
        events._listeners[name].remove(hear)


def test_a_lead_is_scored_against_the_icps_with_the_rules_that_held(makers):
    lead = make_lead(region="华南")  # industry (3) and size (2) hold, region (1) does not: 5/6
    scoring.score_leads([lead.pk])
    lead.refresh_from_db()
    assert lead.icp == makers and lead.icp_score == pytest.approx(83.3)
    assert lead.icp_rules == [0, 1]
    words = reports.explain(lead)
    assert words["icp_reasons"][2].startswith("✗")


def test_engagement_moves_a_lead_to_mql_and_every_move_is_recorded(makers, django_capture_on_commit_callbacks, heard):
    lead = make_lead()
    assert lead.status == Lead.Status.MAL
    with django_capture_on_commit_callbacks(execute=True):
        funnel.record_activity(None, lead, kind="email_click", name="newsletter")  # 5 points < 15
        assert Lead.objects.get(pk=lead.pk).status == Lead.Status.MAL
        funnel.record_activity(None, lead, kind="form", name="webinar-signup")  # + 15 → 20 ≥ 15, fit 100
    lead.refresh_from_db()
    assert lead.status == Lead.Status.MQL and lead.mql_at is not None
    assert lead.engagement_score == pytest.approx(20.0, abs=0.1)
    assert set(lead.engagement_parts) == {"form", "email_click"}
    change = LeadStageChange.objects.get(lead=lead)
    assert (change.from_status, change.to_status, change.changed_by) == ("mal", "mql", None)
    assert change.criteria["engagement"] == pytest.approx(20.0, abs=0.1)
    assert ("lead.stage_changed", {"lead_id": lead.pk, "before": "mal", "after": "mql",
                                   "reason": change.reason, "automatic": True}) in heard


def test_an_activity_sent_twice_with_its_key_counts_once(makers):
    lead = make_lead()
    assert funnel.record_activity(None, lead, kind="web", name="/pricing", key="evt-1") is not None
    assert funnel.record_activity(None, lead, kind="web", name="/pricing", key="evt-1") is None
    assert lead.activities.count() == 1


def test_sql_needs_an_explicit_action(makers):
    lead = make_lead(status=Lead.Status.MQL)
    Lead.objects.filter(pk=lead.pk).update(engagement_score=50, icp_score=100)
    assert funnel.advance_leads([lead.pk]) == 0
    funnel.set_actions(None, Lead.objects.get(pk=lead.pk), ["demo_requested"])
    assert Lead.objects.get(pk=lead.pk).status == Lead.Status.SQL


def test_a_move_by_hand_past_unmet_criteria_needs_a_reason(makers, owner):
    lead = make_lead(owner=owner)
    with pytest.raises(ValidationError) as refused:
        funnel.move_lead(owner, lead, Lead.Status.SQL)
    assert "reason" in refused.value.message_dict
    assert "engagement 0 below 35" in refused.value.message_dict["reason"][0]
    assert Lead.objects.get(pk=lead.pk).status == Lead.Status.MAL  # nothing written
    change = funnel.move_lead(owner, lead, Lead.Status.SQL, reason="客户电话里要了报价")
    assert (change.changed_by, change.reason, change.to_status) == (owner, "客户电话里要了报价", "sql")
    lead.refresh_from_db()
    assert lead.touched_at is not None and lead.sql_at is not None


def test_disqualifying_needs_a_reason_and_conversion_stages_are_not_moves(makers, owner):
    lead = make_lead(owner=owner)
    with pytest.raises(ValidationError):
        funnel.move_lead(owner, lead, Lead.Status.DISQUALIFIED)
    with pytest.raises(ValidationError, match="conversion"):
        funnel.move_lead(owner, lead, Lead.Status.OPPORTUNITY, reason="x")
    funnel.move_lead(owner, lead, Lead.Status.DISQUALIFIED, reason="学生，不是买家")
    assert Lead.objects.get(pk=lead.pk).disqualify_reason == "学生，不是买家"


def test_a_viewer_may_not_move_leads(makers, viewer):
    with pytest.raises(PermissionDenied):
        funnel.move_lead(viewer, make_lead(), Lead.Status.MQL, reason="x")


def test_icp_rules_are_checked_before_saving(admin_user):
    with pytest.raises(ValidationError) as refused:
        funnel.save_icp(admin_user, {"key": "bad", "name": "Bad", "rules": [{"field": "colour", "op": "in", "value": ["x"]}]})
    assert refused.value.message_dict["rules"][0] == "Rule 1: unknown field “colour”."


def test_fit_band_moves_are_said(makers, heard, django_capture_on_commit_callbacks):
    lead = make_lead(industry="零售", region="华南", employee_count=10)  # 0 of 6
    with django_capture_on_commit_callbacks(execute=True):
        scoring.score_leads([lead.pk])
        Lead.objects.filter(pk=lead.pk).update(industry="制造业")  # 3 of 6: band 0 → band 2
        scoring.score_leads([lead.pk])
    fit = [p for name, p in heard if name == "lead.fit_changed" and p["lead_id"] == lead.pk]
    assert fit[-1]["band_before"] == 0 and fit[-1]["band_after"] == 2 and fit[-1]["after"] == 50.0


# -- assignment --------------------------------------------------------------------------------------


def test_rules_assign_by_territory_then_round_robin_within_capacity(makers, owner, teammate, outsider):
    east = AssignmentRule.objects.create(position=1, name="华东", kind="territory", values=["华东"], capacity=2)
    east.reps.set([owner, teammate])
    rest = AssignmentRule.objects.create(position=2, name="其他", kind="round_robin", capacity=10)
    rest.reps.set([outsider])
    leads = [make_lead(email=f"p{i}@x.cn") for i in range(5)] + [make_lead(region="华南", email="s@x.cn")]
    # creating them assigned them already (the write rule); start from the pool
    Lead.objects.update(owner=None)
    assert assignment.assign_leads() == 6
    owners = [Lead.objects.get(pk=lead.pk).owner for lead in leads]
    # east: owner, teammate, owner, teammate (each full at 2), the fifth overflows to round robin
    assert owners == [owner, teammate, owner, teammate, outsider, outsider]


def test_untouched_leads_go_to_someone_else(makers, owner, teammate):
    rule = AssignmentRule.objects.create(name="all", kind="round_robin", capacity=10)
    rule.reps.set([owner, teammate])
    lead = make_lead(owner=owner)
    Lead.objects.filter(pk=lead.pk).update(assigned_at=timezone.now() - dt.timedelta(days=8))
    assert assignment.reassign_stale() == 1
    assert Lead.objects.get(pk=lead.pk).owner == teammate


def test_bulk_assignment_only_of_visible_leads(makers, owner, outsider, team_visibility):
    mine = make_lead(owner=owner)
    theirs = make_lead(owner=outsider, email="o@x.cn")
    with pytest.raises(ValidationError, match=str(theirs.pk)):
        assignment.assign_by_hand(owner, [mine.pk, theirs.pk], owner.pk)
    assert assignment.assign_by_hand(owner, [mine.pk], None) == 1
    assert Lead.objects.get(pk=mine.pk).owner is None


def test_a_rep_sees_their_leads_and_the_pool(makers, owner, outsider, team_visibility):
    from clm.core.access import visible_records

    mine, pool, theirs = make_lead(owner=owner), make_lead(email="p@x.cn"), make_lead(owner=outsider, email="t@x.cn")
    Lead.objects.filter(pk=pool.pk).update(owner=None)
    assert set(visible_records(Lead, owner)) == {mine, pool}
    assert theirs not in visible_records(Lead, owner)

