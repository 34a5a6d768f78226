"""Plays in the demo world: the uplift report recovers the effect the simulator put in.

The demo replays a year with `health-red-winback` at a 50% holdout; simulated CSMs do the play's
tasks (clm.demo.plays.TASK_COMPLETION) and completed work averts a drawn churn with probability
clm.demo.plays.SAVE_SHARE. Beside it runs a control playbook on the same trigger whose only work is
a tag, which reaches no customer: its interval must contain 0."""

import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.test import Client, override_settings

from tests.demo.conftest import AS_OF, remove_company

CONTROL = "health-red-tag"

pytestmark = pytest.mark.django_db


def control_doc(tag: str) -> dict:
    return {
        "key": CONTROL,
        "name": {"zh": "健康度红色标记", "en": "Tag accounts in the red"},
        "description": "control: a tag reaches no customer",
        "active": True,
        "holdout": 0.5,
        "reentry": {"policy": "once_per_days", "days": 90},
        "outcome": {"kind": "retained", "days": 180},
        "definition": {
            "trigger": {"type": "segment", "condition": {"metric": "health_score", "op": "<", "value": 60}},
            "conditions": None,
            "exit": None,
            "steps": [{"id": "tag", "type": "change_tags", "add": [tag]}],
        },
    }


@pytest.fixture(scope="module")
def replayed(django_db_setup, django_db_blocker):
    """600 accounts over 24 months, seed 7, with the year before AS_OF replayed with the plays."""
    from clm.automation.models import Enrollment, Playbook
    from clm.automation.playbooks import services as playbooks
    from clm.customers.models import Tag
    from clm.demo import services
    from clm.demo.simulator import simulate
    from clm.lifecycle.models import Run

    fast = override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
    def clear():
        Enrollment.objects.all().delete()  # their versions are protected while they exist
        Playbook.objects.all().delete()
        Run.objects.all().delete()  # the replayed runs date what other modules' reports know

    with django_db_blocker.unblock(), fast:
        clear()
        result = simulate(600, 24, 7, AS_OF, wipe=True)
        tag = Tag.objects.select_related("category").order_by("pk").first()
        playbooks.save_document(control_doc(f"{tag.category.name}:{tag.value}"))
        steps = services.after_build(AS_OF, result=result, playbooks={"health-red-winback": 0.5}, train=False).steps
        try:
            yield steps
        finally:
            clear()
            remove_company()


def uplift(key: str) -> dict:
    out = io.StringIO()
    call_command("playbook", "uplift", key, "--json", stdout=out)  # outcomes known through AS_OF's run
    return json.loads(out.getvalue())


@pytest.mark.slow
def test_the_uplift_interval_recovers_the_simulated_effect_and_a_play_without_effect_shows_none(
    replayed, django_db_blocker
):
    from clm.automation.models import Enrollment, Playbook, Task
    from clm.demo import plays

    with django_db_blocker.unblock():
        winback, control = Playbook.objects.get(key="health-red-winback"), Playbook.objects.get(key=CONTROL)
        truth = plays.simulated_effect(winback, AS_OF)
        measured = uplift("health-red-winback")
        none = uplift(CONTROL)
        first_day = plays.replay_dates(AS_OF)[0]
        started = [timezone_date(e) for e in Enrollment.objects.values_list("started_at", flat=True)]
        held_out_tasks = Task.objects.filter(
            enrollment_id__in=Enrollment.objects.filter(held_out=True).values("pk")
        ).count()
        done = Task.objects.filter(enrollment_id__isnull=False, status="done").count()
        made = Task.objects.filter(enrollment_id__isnull=False).count()
        page = Client()
        page.force_login(_admin())
        html = page.get("/playbooks/").content.decode()

    # The known effect: treated enrollments whose drawn churn within 180 days the play averted.
    assert truth["averted"] > 0 and truth["treated"] == measured["treated"]
    assert not measured["too_small"], measured["verdict"]
    assert measured["low"] <= truth["effect"] <= measured["high"], (truth, measured)
    # The control's work (a tag) reaches no customer: no effect, and its interval contains 0.
    assert plays.simulated_effect(control, AS_OF)["averted"] == 0
    assert not none["too_small"], none["verdict"]
    assert none["low"] <= 0 <= none["high"], none
    # Enrollments happened on the simulated timeline; held-out accounts got no work.
    assert first_day <= min(started) and max(started) <= AS_OF
    assert held_out_tasks == 0
    assert 0.55 < done / made < 0.85  # TASK_COMPLETION = 0.7, less the tasks due after AS_OF
    # The workspace's playbook list shows the measured result.
    assert all(f"{measured[k]:+.1%}" in html for k in ("difference", "low", "high"))


def timezone_date(moment: dt.datetime) -> dt.date:
    from django.utils import timezone

    return timezone.localdate(moment)


def _admin():
    from clm.core.models import User

    return User.objects.get(username="admin")
