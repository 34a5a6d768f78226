"""Talk tracks: only those that fit the deal (stage, industry, roles on the account, products),
ranked by the smoothed win rate of the deals that used them, worked out by hand."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from clm.core import services
from clm.customers.models import Contact
from clm.sales import scripts
from clm.sales.models import Opportunity, TalkTrack, TalkTrackUse
from tests.factories import make_account

pytestmark = pytest.mark.django_db


def deal(account, name, stage="qualify"):
    opp = services.create(Opportunity, {"account": account, "name": name, "owner": account.sales_owner})
    return services.update(opp, {"stage": stage}) if stage != "qualify" else opp


@pytest.fixture
def world(owner, team_visibility):
    account = make_account("华星精密", sales_owner=owner, industry="制造业")
    Contact.objects.create(account=account, name="王芳", role="economic_buyer")
    tracks = {
        "roi": TalkTrack.objects.create(title="ROI 测算", body="用客户的数据算回本周期", stages=["proposal"]),
        "price": TalkTrack.objects.create(title="价格异议", kind="objection", body="拆分到每席位每天",
                                          stages=["proposal", "negotiation"], personas=["economic_buyer"]),
        "retail": TalkTrack.objects.create(title="零售案例", body="门店案例", industries=["零售"]),
        "any": TalkTrack.objects.create(title="通用开场", body="先问痛点"),
    }  # fmt: skip
    # history: "roi" used on 10 closed deals, 8 won → (8+1)/(10+2) = 0.75; "price" on 1, won →
    # (1+1)/(1+2) = 0.667; "any" never on a closed deal → (0+1)/(0+2) = 0.5
    for i in range(10):
        TalkTrackUse.objects.create(track=tracks["roi"], opportunity=deal(account, f"r{i}", "won" if i < 8 else "lost"))
    TalkTrackUse.objects.create(track=tracks["price"], opportunity=deal(account, "p", "won"))
    return account, tracks


def test_tracks_that_fit_ranked_by_smoothed_win_rate(owner, world):
    account, tracks = world
    current = deal(account, "年度订阅", "proposal")
    found = scripts.suggestions(owner, current)
    assert [s.track.title for s in found] == ["ROI 测算", "价格异议", "通用开场"]  # 零售 does not fit 制造业
    assert [(s.won, s.closed, round(s.score, 3)) for s in found] == [(8, 10, 0.75), (1, 1, 0.667), (0, 0, 0.5)]
    assert len(found[1].reasons) == 2  # its stage, and the economic buyer on the account
    scripts.mark_used(owner, current, tracks["any"])
    scripts.mark_used(owner, current, tracks["any"])  # once per deal
    assert TalkTrackUse.objects.filter(opportunity=current).count() == 1
    assert [s.used for s in scripts.suggestions(owner, current)] == [False, False, True]


def test_another_team_gets_nothing(outsider, world):
    account, tracks = world
    with pytest.raises(PermissionDenied):
        scripts.suggestions(outsider, Opportunity.objects.filter(account=account).first())


def test_unknown_roles_are_refused():
    with pytest.raises(ValidationError) as refused:
        TalkTrack(title="x", body="y", personas=["ceo"]).full_clean()
    assert "ceo" in refused.value.message_dict["personas"][0]


def test_the_deal_page_shows_the_tracks_and_marks_one_used(client, owner, world):
    account, tracks = world
    current = deal(account, "年度订阅", "proposal")
    client.force_login(owner)
    page = client.get(reverse("web:deal", args=[current.pk]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "ROI 测算" in page and "won 8 of 10 closed deals that used it" in page and "零售案例" not in page
    assert "Qualify → <strong>Proposal</strong>" in page
    client.post(reverse("web:deal_track_used", args=[current.pk, tracks["roi"].pk]))
    assert TalkTrackUse.objects.filter(opportunity=current, track=tracks["roi"]).exists()


def test_the_api_lists_and_records_tracks(owner, world, api_as):
    account, tracks = world
    current = deal(account, "年度订阅", "proposal")
    api = api_as(owner, language="en")
    listed = api.get(f"/opportunities/{current.pk}/talk-tracks").json_body
    assert [t["title"] for t in listed] == ["ROI 测算", "价格异议", "通用开场"] and listed[0]["score"] == 0.75
    assert api.post(f"/opportunities/{current.pk}/talk-tracks/{tracks['roi'].pk}/uses").status_code == 201
    assert api.get(f"/opportunities/{current.pk}/talk-tracks").json_body[0]["used"] is True
    assert api.post(f"/opportunities/{current.pk}/talk-tracks/999999/uses").status_code == 404
