"""Playbook documents are refused when saved, with the step and the reason; saved ones are versioned."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from clm.automation.models import PlaybookVersion
from clm.automation.playbooks import services
from clm.core.services import validation_messages
from tests.automation.conftest import playbook_doc


def problems(doc, actor) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        services.save_document(doc, actor=actor)
    return {m["field"]: m["message"] for m in validation_messages(caught.value)}


def test_a_wait_with_no_end_is_refused_naming_the_step(admin_user):
    doc = playbook_doc(
        steps=[{"id": "pause", "type": "wait"}, {"id": "p", "type": "loyalty_points", "points": 5}]
    )
    found = problems(doc, admin_user)
    assert "a wait needs an end" in found["definition.steps[0] (pause).days"]


def test_a_wait_for_an_event_needs_a_timeout(admin_user):
    doc = playbook_doc(steps=[{"id": "w", "type": "wait", "event": "task.completed"}])
    assert "needs a timeout" in problems(doc, admin_user)["definition.steps[0] (w).timeout_days"]


def test_playbooks_that_would_enroll_each_other_in_a_loop_are_refused(admin_user):
    services.save_document(playbook_doc("c"), actor=admin_user)
    services.save_document(
        playbook_doc("b", steps=[{"id": "to-c", "type": "enroll", "playbook": "c"}]), actor=admin_user
    )
    services.save_document(
        playbook_doc("a", steps=[{"id": "to-b", "type": "enroll", "playbook": "b"}]), actor=admin_user
    )
    doc = playbook_doc("c", steps=[{"id": "to-a", "type": "enroll", "playbook": "a"}])
    message = problems(doc, admin_user)["definition.steps[0] (to-a).playbook"]
    assert message == "playbooks would enroll each other in a loop: c → a → b → c"


def test_a_condition_on_an_unknown_field_is_refused_with_its_place(admin_user):
    doc = playbook_doc(
        conditions={
            "all": [
                {"metric": "health_score", "op": "<", "value": 60},
                {"metric": "helth_band", "op": "==", "value": "red"},
            ]
        }
    )
    message = problems(doc, admin_user)["definition.conditions.all[1].metric"]
    assert message.startswith("unknown metric 'helth_band'")


def test_a_branch_on_an_unknown_field_is_refused(admin_user):
    doc = playbook_doc(
        steps=[
            {
                "id": "b",
                "type": "branch",
                "if": {"condition": {"metric": "nope", "op": ">", "value": 1}},
                "then": "p",
            },
            {"id": "p", "type": "loyalty_points", "points": 5},
        ]
    )
    assert "unknown metric 'nope'" in problems(doc, admin_user)["definition.steps[0] (b).if.condition.metric"]


def test_a_task_for_a_user_who_does_not_exist_is_refused(admin_user):
    doc = playbook_doc(
        steps=[{"id": "t", "type": "create_task", "title": "Call", "assignee": {"user": "ghost"}}]
    )
    assert problems(doc, admin_user)["definition.steps[0] (t).assignee"] == "no active user is called 'ghost'"


def test_a_branch_jumps_only_forward(admin_user):
    doc = playbook_doc(
        steps=[
            {"id": "p", "type": "loyalty_points", "points": 5},
            {
                "id": "b",
                "type": "branch",
                "if": {"condition": {"metric": "mrr", "op": ">", "value": 1}},
                "then": "p",
            },
        ]
    )
    assert "after this branch" in problems(doc, admin_user)["definition.steps[1] (b).then"]


def test_unknown_step_types_triggers_and_settings_are_named(admin_user):
    doc = playbook_doc(
        trigger={"type": "stage_changed", "to": ["gone"]},
        steps=[{"id": "x", "type": "fax"}, {"id": "p", "type": "loyalty_points", "points": 5, "colour": 1}],
    )
    found = problems(doc, admin_user)
    assert (
        found["definition.trigger.to"]
        == "'gone' is not one of prospect, onboarding, growth, mature, at_risk, dormant, churned, reactivated"
    )
    assert found["definition.steps[0] (x).type"].startswith("expected one of create_task, open_case")
    assert found["definition.steps[1] (p).colour"] == "unknown setting"


def test_a_holdout_of_one_or_more_is_refused(admin_user):
    assert problems(playbook_doc(holdout=1), admin_user)["holdout"].startswith(
        "expected a share from 0 up to"
    )


def test_a_changed_definition_is_a_new_version_and_an_unchanged_one_is_not(admin_user):
    playbook, created = services.save_document(playbook_doc(), actor=admin_user)
    assert created and playbook.current.number == 1
    services.save_document(playbook_doc(holdout=0.2), actor=admin_user)  # settings only
    assert PlaybookVersion.objects.filter(playbook=playbook).count() == 1
    changed = playbook_doc(steps=[{"id": "p", "type": "loyalty_points", "points": 20}])
    playbook, created = services.save_document(changed, actor=admin_user)
    assert not created and playbook.current.number == 2
    assert playbook.versions.get(number=1).definition["steps"][0]["points"] == 10


def test_a_version_never_changes_once_saved(admin_user):
    playbook, _ = services.save_document(playbook_doc(), actor=admin_user)
    version = playbook.current
    version.definition = {}
    with pytest.raises(ValueError, match="immutable"):
        version.save()


def test_only_administrators_and_managers_change_playbooks(viewer, csm):
    for user in (viewer, csm):
        with pytest.raises(PermissionDenied):
            services.save_document(playbook_doc(), actor=user)


def test_every_shipped_template_is_valid_except_for_what_the_channels_add(admin_user):
    shipped = services.templates()
    assert set(shipped) == {
        "welcome-new-lead",
        "lead-no-touch-7d",
        "onboarding-30d",
        "health-red-winback",
        "renewal-90d-risk",
        "champion-left",
        "dormant-reactivation",
        "nps-detractor-call",
        "promoter-referral-ask",
        "feedback-to-product",
    }
    for key in shipped:
        if key == "welcome-new-lead":  # its email template comes with the channels
            continue
        playbook = services.enable_template(key, actor=admin_user)
        assert playbook.active and playbook.template == key


def refusal(api_as, user, doc, language: str) -> dict[tuple, str]:
    from tests.api.conftest import assert_error

    response = api_as(user).post("/playbooks", doc, headers={"Accept-Language": language})
    error = assert_error(response, 422, "invalid_data")
    return {tuple(d["loc"]): d["message"] for d in error["details"]}


BAD_STEPS = [
    {"id": "pause", "type": "wait", "days": 0},
    {"id": "call", "type": "create_task", "title": "回访", "assignee": {"user": "nobody"}},
]


def test_a_refused_playbook_names_the_step_and_the_reason_in_chinese(api_as, admin_user):
    found = refusal(api_as, admin_user, playbook_doc(steps=BAD_STEPS), "zh-hans")
    assert found[("definition.steps[0] (pause).days",)] == "应为不小于 1 的整数，收到 0"
    assert found[("definition.steps[1] (call).assignee",)] == "没有名为 'nobody' 的在职用户"
    assert not PlaybookVersion.objects.exists()


def test_a_refused_playbook_names_the_step_and_the_reason_in_english(api_as, admin_user):
    found = refusal(api_as, admin_user, playbook_doc(steps=BAD_STEPS), "en")
    assert found[("definition.steps[0] (pause).days",)] == "expected a whole number ≥ 1, got 0"
    assert found[("definition.steps[1] (call).assignee",)] == "no active user is called 'nobody'"


def test_a_refused_channel_step_and_trigger_read_in_chinese(api_as, admin_user):
    doc = playbook_doc(
        trigger={"type": "survey_answered", "kind": "stars"},
        steps=[{"id": "mail", "type": "send_email", "template": "no-such"}],
    )
    found = refusal(api_as, admin_user, doc, "zh-hans")
    assert found[("definition.trigger.kind",)] == "应为 nps、csat 或 ces"
    assert found[("definition.steps[0] (mail).template",)] == "没有邮件模板 'no-such'"
