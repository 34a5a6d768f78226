"""Survey links and answers without email: the link's token (hashed, expiring, one answer), what an
unusable link or a bad score stores (nothing), who may send, answers read by health's voice
metrics and the NPS KPI as imported ones are, and the response rate worked by hand."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from clm.customers.models import Account, Contact
from clm.lifecycle import voice
from clm.lifecycle.metrics import Window
from clm.reports.catalogue import BY_KEY
from clm.reports.kpis.base import Scope
from clm.reports.periods import Period
from clm.service import surveys
from clm.service.models import Survey, SurveyInvitation, SurveyResponse

pytestmark = pytest.mark.django_db


@pytest.fixture
def ces(db):
    return Survey.objects.create(name="工单 CES", kind="ces", question_zh="解决问题有多轻松？", question_en="How easy?")


@pytest.fixture
def people(owner, outsider):
    ours = Account.objects.create(name="Ours", sales_owner=owner)
    theirs = Account.objects.create(name="Theirs", sales_owner=outsider)
    return (Contact.objects.create(account=ours, name="甲", role="decision_maker"),
            Contact.objects.create(account=theirs, name="乙", role="user"))


def test_a_link_answers_once_and_bad_links_or_scores_store_nothing(ces, people, owner):
    [invitation] = surveys.invite(owner, ces, [people[0]], channel="link")
    token = surveys.token_for(invitation)
    assert invitation.sent_at is not None  # a link counts as reached when handed over
    with pytest.raises(ValidationError) as caught:
        surveys.answer(token, "8")  # CES is 1–7
    assert caught.value.message_dict == {"score": ["请选择 1 到 7 之间的分数。"]}
    with pytest.raises(ValidationError):
        surveys.answer(token, "3.5")
    for bad in ("", "x" * 30, token[:-1] + ("A" if token[-1] != "A" else "B")):
        with pytest.raises(surveys.LinkProblem) as problem:
            surveys.answer(bad, 5)
        assert problem.value.reason == "unknown"
    assert SurveyResponse.objects.count() == 0
    response = surveys.answer(token, " 6 ", "很顺利")
    assert (response.kind, response.score, response.source) == ("ces", 6, "clm-survey")
    with pytest.raises(surveys.LinkProblem) as problem:
        surveys.answer(token, 7)
    assert problem.value.reason == "answered" and SurveyResponse.objects.count() == 1


def test_an_expired_or_closed_link_is_refused(ces, people, owner):
    expired, closed = surveys.invite(owner, ces, [people[0], people[0]], channel="link")
    SurveyInvitation.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    with pytest.raises(surveys.LinkProblem) as problem:
        surveys.answer(surveys.token_for(expired), 5)
    assert problem.value.reason == "expired"
    Survey.objects.filter(pk=ces.pk).update(active=False)
    with pytest.raises(surveys.LinkProblem) as problem:
        surveys.open_invitation(surveys.token_for(closed))
    assert problem.value.reason == "closed" and SurveyResponse.objects.count() == 0


def test_only_contacts_of_visible_accounts_may_be_surveyed_and_viewers_may_not_send(
    ces, people, owner, viewer, team_visibility
):
    with pytest.raises(PermissionDenied):
        surveys.invite(owner, ces, [people[1]], channel="link")
    with pytest.raises(PermissionDenied):
        surveys.invite(viewer, ces, [people[0]], channel="link")
    assert SurveyInvitation.objects.count() == 0


def test_recipients_are_the_roles_without_an_open_invitation(people, owner, admin_user):
    survey = Survey.objects.create(name="NPS", kind="nps", question_zh="推荐？", question_en="Recommend?",
                                   roles=["decision_maker"])
    everyone = Contact.objects.all()
    assert surveys.recipients(survey, everyone) == [people[0]]
    surveys.invite(owner, survey, [people[0]], channel="link")
    assert surveys.recipients(survey, everyone) == []
    with pytest.raises(ValidationError) as caught:
        surveys.save_survey(admin_user, {"roles": ["boss"]}, survey)
    assert "roles" in caught.value.message_dict
    with pytest.raises(PermissionDenied):  # a sales rep sends surveys but does not define them
        surveys.save_survey(owner, {"name": "mine"}, survey)


def test_answers_feed_health_voice_metrics_and_the_nps_kpi_like_imported_ones(people, owner, admin_user):
    nps = Survey.objects.create(name="NPS", kind="nps", question_zh="推荐？", question_en="Recommend?")
    a, b = surveys.invite(owner, nps, [people[0], people[0]], channel="link")
    SurveyInvitation.objects.filter(pk=b.pk).update(answered_at=None)
    surveys.answer(surveys.token_for(a), 3)
    SurveyResponse.objects.create(account=people[0].account, kind="nps", score=10, responded_at=timezone.now())
    surveys.answer(surveys.token_for(b), 9)
    today = timezone.localdate()
    metrics = voice.surveys(Window(today + dt.timedelta(days=1)))
    assert metrics.loc[people[0].account_id, "nps_latest"] == 9
    # NPS by hand: promoters 10 and 9, detractor 3 → (2 − 1) / 3 = 33.3
    result = BY_KEY["nps"].compute(Scope(admin_user, None, today), Period.parse(today.strftime("%Y-%m")))
    assert result.value == pytest.approx(100 / 3)


def test_the_response_rate_is_answered_over_reached(ces, people, owner, admin_user):
    made = surveys.invite(owner, ces, [people[0]] * 4, channel="email")
    surveys.mark_sent([(made[0], ""), (made[1], ""), (made[2], ""), (made[3], "unsubscribed")])
    surveys.answer(surveys.token_for(made[0]), 5)
    # 4 invited, 3 reached (one refused as unsubscribed), 1 answered: 1/3
    assert surveys.response_rates(admin_user, [ces])[ces.pk] == {
        "invited": 4, "reached": 3, "answered": 1, "reminded": 0, "rate": pytest.approx(1 / 3)}
