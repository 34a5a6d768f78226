"""The pipeline board: a rep sees their own deals by stage with the column totals, moves one with
the card's form, is told which field a stage needs when refused, and cannot move another team's."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from clm.core import services
from clm.sales.models import Opportunity, PipelineStage
from clm.sales.pipelines import install_built_in
from tests.factories import make_account

pytestmark = pytest.mark.django_db


@pytest.fixture
def deals(owner, outsider, team_visibility):
    install_built_in()
    PipelineStage.objects.filter(pipeline__key="new-business", key="negotiation").update(
        required_fields=["expected_close"]
    )
    mine = make_account("华星精密", sales_owner=owner)
    theirs = make_account("Theirs Ltd", sales_owner=outsider)

    def deal(account, name, stage, amount):
        opp = services.create(Opportunity, {"account": account, "name": name, "amount": Decimal(amount), "owner": account.sales_owner})
        return services.update(opp, {"stage": stage}) if stage != "qualify" else opp

    return {
        "p1": deal(mine, "年度订阅", "proposal", 5000),
        "p2": deal(mine, "增购席位", "proposal", 3000),
        "q1": deal(mine, "试点项目", "qualify", 1000),
        "x": deal(theirs, "Hidden deal", "proposal", 99999),
    }


def test_the_board_shows_my_deals_by_stage_with_totals(client, owner, deals, django_assert_max_num_queries):
    client.force_login(owner)
    with django_assert_max_num_queries(25):
        page = client.get(reverse("web:pipeline"), HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    text = page.content.decode()
    assert "年度订阅" in text and "试点项目" in text and "Hidden deal" not in text
    assert 'data-testid="count-proposal">2 deals' in text
    column = page.context["board"].columns[2]
    assert (column.stage.key, column.amount, column.weighted) == ("proposal", Decimal(8000), Decimal(4000))


def test_moving_a_deal_from_its_card(client, owner, deals):
    client.force_login(owner)
    answer = client.post(reverse("web:pipeline_move", args=[deals["q1"].pk]), {"stage": "discovery"}, follow=True)
    deals["q1"].refresh_from_db()
    assert deals["q1"].stage == "discovery"
    assert "试点项目" in answer.content.decode()


def test_a_refused_move_names_the_field_the_stage_needs(client, owner, deals):
    client.force_login(owner)
    answer = client.post(
        reverse("web:pipeline_move", args=[deals["p1"].pk]), {"stage": "negotiation"}, follow=True,
        HTTP_ACCEPT_LANGUAGE="en",
    )
    text = answer.content.decode()
    assert "was not moved" in text and "expected close date" in text and "Negotiation" in text
    deals["p1"].refresh_from_db()
    assert deals["p1"].stage == "proposal"
    answer = client.post(reverse("web:pipeline_move", args=[deals["p1"].pk]), {"stage": "nowhere"}, follow=True)
    assert "nowhere" in answer.content.decode()


def test_another_teams_deal_cannot_be_moved(client, owner, deals):
    client.force_login(owner)
    assert client.post(reverse("web:pipeline_move", args=[deals["x"].pk]), {"stage": "won"}).status_code == 404
    deals["x"].refresh_from_db()
    assert deals["x"].stage == "proposal"


def test_the_deal_form_offers_the_pipelines_stages_and_saves_through_the_services(client, owner, deals):
    client.force_login(owner)
    page = client.get(reverse("web:record_new", args=["opportunities"]), HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200 and "Negotiation" in page.content.decode()
    account = deals["q1"].account
    answer = client.post(reverse("web:record_new", args=["opportunities"]), {
        "account": account.pk, "name": "续约 2027", "type": "new", "stage": "negotiation", "amount": "800",
    }, HTTP_ACCEPT_LANGUAGE="en")  # fmt: skip
    assert answer.status_code == 422 and "Required to enter the stage" in answer.content.decode()
    answer = client.post(reverse("web:record_new", args=["opportunities"]), {
        "account": account.pk, "name": "续约 2027", "type": "new", "stage": "negotiation", "amount": "800",
        "expected_close": (dt.date.today() + dt.timedelta(days=30)).isoformat(),
    })  # fmt: skip
    assert answer.status_code == 302
    assert Opportunity.objects.get(name="续约 2027").pipeline.key == "new-business"


def test_bad_filters_are_shown_not_a_500(client, owner, deals):
    client.force_login(owner)
    page = client.get(reverse("web:pipeline"), {"close_before": "not-a-date", "owner": "x"})
    assert page.status_code == 200
