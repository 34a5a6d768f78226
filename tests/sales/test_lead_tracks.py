"""Talk tracks on leads: the same ranking as deals (one function), fitted by the lead's stage
(mal/mql/sql), its industry and its contact's role when known; a lead's use is won when the lead
becomes a customer and lost when disqualified. Worked out by hand below."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from clm.core import services
from clm.customers.models import Contact
from clm.sales import conversion, scripts
from clm.sales.models import Lead, Opportunity, TalkTrack, TalkTrackUse
from tests.factories import make_account
from tests.sales.conftest import make_lead

pytestmark = pytest.mark.django_db


@pytest.fixture
def tracks(owner, team_visibility):
    made = {
        "maker": TalkTrack.objects.create(title="制造业案例", body="设备联网", stages=["mql", "sql"], industries=["制造业"]),
        "opener": TalkTrack.objects.create(title="首次接触", body="先问现状", stages=["mql"]),
        "cfo": TalkTrack.objects.create(title="讲回本周期", body="算 ROI", stages=["mql"], personas=["economic_buyer"]),
        "any": TalkTrack.objects.create(title="通用开场", body="先问痛点"),
        "retail": TalkTrack.objects.create(title="零售案例", body="门店", industries=["零售"]),
        "deal": TalkTrack.objects.create(title="报价谈判", body="拆分价格", stages=["proposal"]),
    }  # fmt: skip
    # history: "maker" on 3 closed leads (2 customers, 1 disqualified) and 1 won deal → won 3 of 4,
    # (3+1)/(4+2) = 0.667; "opener" on 2 disqualified leads → (0+1)/(2+2) = 0.25, and on one open
    # lead, which does not count; "cfo" and "any" unused → (0+1)/(0+2) = 0.5, "cfo" first for its
    # one reason (the stage) against none.
    for i, status in enumerate(["converted", "converted", "disqualified"]):
        TalkTrackUse.objects.create(track=made["maker"], lead=make_lead(email=f"m{i}@x.cn", status=status))
    for i in range(2):
        TalkTrackUse.objects.create(track=made["opener"], lead=make_lead(email=f"o{i}@x.cn", status="disqualified"))
    TalkTrackUse.objects.create(track=made["opener"], lead=make_lead(email="open@x.cn", status="mql"))
    account = make_account("华星精密", sales_owner=owner, industry="制造业")
    won = services.create(Opportunity, {"account": account, "name": "已赢", "owner": owner})
    TalkTrackUse.objects.create(track=made["maker"], opportunity=services.update(won, {"stage": "won"}))
    return made


def test_a_lead_gets_the_tracks_that_fit_ranked_with_deals_and_leads(owner, tracks):
    lead = make_lead(owner=owner, status=Lead.Status.MQL)
    found = scripts.lead_suggestions(owner, lead, limit=10)
    assert [s.track.title for s in found] == ["制造业案例", "讲回本周期", "通用开场", "首次接触"]
    assert [(s.won, s.closed, round(s.score, 3)) for s in found] == [(3, 4, 0.667), (0, 0, 0.5), (0, 0, 0.5), (0, 2, 0.25)]
    assert found[0].reasons == ["for the stage MQL", "for 制造业"]
    assert found[1].reasons == ["for the stage MQL"]  # the role is unknown: no contact yet, not a condition
    at_sql = scripts.lead_suggestions(owner, make_lead(email="s@x.cn", owner=owner, status="sql"), limit=10)
    assert [s.track.title for s in at_sql] == ["制造业案例", "通用开场"]


def test_a_known_contact_role_is_a_condition(owner, tracks):
    account = make_account("苏州精工", sales_owner=owner)
    influencer = Contact.objects.create(account=account, name="李娜", role="influencer")
    buyer = Contact.objects.create(account=account, name="赵强", role="economic_buyer")
    lead = make_lead(owner=owner, status="mql", contact=influencer)
    assert "讲回本周期" not in [s.track.title for s in scripts.lead_suggestions(owner, lead, limit=10)]
    lead.contact = buyer
    found = {s.track.title: s for s in scripts.lead_suggestions(owner, lead, limit=10)}
    assert found["讲回本周期"].reasons == ["for the stage MQL", "for the Economic buyer you are talking to"]


def test_a_lead_use_is_won_when_the_lead_becomes_a_customer(owner, tracks, django_capture_on_commit_callbacks):
    lead = make_lead(company="杭州云栖软件有限公司", email="a@yunqi.cn", owner=owner, status="sql")
    scripts.mark_used(owner, lead, tracks["any"])
    scripts.mark_used(owner, lead, tracks["any"])  # once per lead
    assert TalkTrackUse.objects.filter(lead=lead).count() == 1
    assert [s.used for s in scripts.lead_suggestions(owner, lead) if s.track == tracks["any"]] == [True]
    with django_capture_on_commit_callbacks(execute=True):
        lead = conversion.convert_lead(owner, lead, new_account=True)
    with pytest.raises(ValidationError):  # no longer open: tracks go on its deal now
        scripts.mark_used(owner, lead, tracks["maker"])
    deal = Opportunity.objects.get(account=lead.account)
    with django_capture_on_commit_callbacks(execute=True):
        services.update(deal, {"stage": Opportunity.Stage.WON}, actor=owner)
    # "any" now: won 1 of 1 → (1+1)/(1+2) = 0.667, and the deal page ranks it the same way
    other = services.create(Opportunity, {"account": lead.account, "name": "增购", "owner": owner})
    found = {s.track.title: s for s in scripts.suggestions(owner, other, limit=10)}
    assert (found["通用开场"].won, found["通用开场"].closed, round(found["通用开场"].score, 3)) == (1, 1, 0.667)


def test_others_leads_are_refused(outsider, owner, tracks):
    lead = make_lead(owner=owner, status="mql")
    with pytest.raises(PermissionDenied):
        scripts.lead_suggestions(outsider, lead)
    with pytest.raises(PermissionDenied):
        scripts.mark_used(outsider, lead, tracks["any"])
    assert not TalkTrackUse.objects.filter(lead=lead).exists()


def test_stages_are_checked_and_lead_stages_allowed():
    TalkTrack(title="x", body="y", stages=["mql", "proposal"]).full_clean()
    with pytest.raises(ValidationError) as refused:
        TalkTrack(title="x", body="y", stages=["mqll"]).full_clean()
    assert "mqll" in refused.value.message_dict["stages"][0] and "sql" in refused.value.message_dict["stages"][0]


def test_a_use_is_on_a_deal_or_a_lead_never_both(owner, tracks):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        TalkTrackUse.objects.create(track=tracks["any"])


def test_the_lead_page_shows_the_tracks_and_marks_one_used(client, owner, tracks):
    lead = make_lead(owner=owner, status="mql")
    client.force_login(owner)
    page = client.get(reverse("web:lead", args=[lead.pk]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "制造业案例" in page and "won 3 of 4 closed deals and leads that used it" in page and "零售案例" not in page
    zh = client.get(reverse("web:lead", args=[lead.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "适合此线索" in zh or "此线索" in zh
    client.post(reverse("web:lead_track_used", args=[lead.pk, tracks["maker"].pk]))
    assert TalkTrackUse.objects.filter(lead=lead, track=tracks["maker"]).exists()
    lead.status = "disqualified"
    lead.save()
    response = client.post(reverse("web:lead_track_used", args=[lead.pk, tracks["any"].pk]), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302 and not TalkTrackUse.objects.filter(lead=lead, track=tracks["any"]).exists()


def test_the_api_lists_and_records_lead_tracks(owner, outsider, tracks, api_as):
    lead = make_lead(owner=owner, status="mql")
    api = api_as(owner, language="en")
    listed = api.get(f"/leads/{lead.pk}/talk-tracks").json_body
    assert [t["title"] for t in listed][:2] == ["制造业案例", "讲回本周期"] and round(listed[0]["score"], 3) == 0.667
    assert api.post(f"/leads/{lead.pk}/talk-tracks/{tracks['any'].pk}/uses").status_code == 201
    assert [t["used"] for t in api.get(f"/leads/{lead.pk}/talk-tracks?limit=10").json_body if t["id"] == tracks["any"].pk] == [True]
    assert api.post(f"/leads/{lead.pk}/talk-tracks/999999/uses").status_code == 404
    assert api.get(f"/leads/{lead.pk}/talk-tracks?limit=0").status_code == 422
    refused = api_as(outsider, language="en").get(f"/leads/{lead.pk}/talk-tracks")  # the lead API's way: 422, named
    assert refused.status_code == 422 and f"No lead {lead.pk} among the leads you may see" in refused.content.decode()
