"""The warning level stored per run with its evidence: on the small world, Acme's usage halves in
June (two risk signals, login_drop and usage_decline) while a payment is overdue and its champion
left (two watch signals). On the first day nothing has held for its week: watch. A week on, the
risk signals are confirmed and the two watch signals corroborate them: high risk."""

import datetime as dt

import pandas as pd

from clm.analytics.warning import warning_evidence, warning_levels
from clm.customers.models import Account, WarningLevel
from clm.lifecycle import services
from clm.lifecycle.models import AccountWarning

from .conftest import AS_OF


def test_the_first_day_signals_fire_unconfirmed_and_the_account_is_on_watch(world):
    acme, shop, lead = world["acme"], world["shop"], world["lead"]
    record = services.run(AS_OF)
    warned = AccountWarning.objects.get(account=acme, as_of=AS_OF)
    assert warned.level == WarningLevel.WATCH
    assert warned.evidence["confirmed"] == []
    assert {"login_drop", "usage_decline", "overdue_payment", "key_contact_left"} <= set(warned.evidence["firing"])
    assert warned.evidence["churn_risk"] is None and warned.evidence["threshold"] is None  # no model
    assert not AccountWarning.objects.filter(account__in=[shop, lead]).exists()  # no warning, no row
    levels = dict(Account.objects.values_list("name", "warning_level"))
    assert levels == {"Acme": 1, "Shop": 0, "Lead": 0}
    assert record.summary["warnings"] == {"watch": 1}


def test_a_week_on_the_risk_signals_are_confirmed_and_corroborated_high(world):
    acme = world["acme"]
    services.run(AS_OF)
    later = AS_OF + dt.timedelta(days=7)
    services.run(later)
    warned = AccountWarning.objects.get(account=acme, as_of=later)
    assert warned.level == WarningLevel.CHURN_WARNING
    confirmed, firing = set(warned.evidence["confirmed"]), set(warned.evidence["firing"])
    assert {"login_drop", "usage_decline"} <= confirmed <= firing
    assert len(firing - confirmed) >= 2  # overdue payment and key contact left corroborate
    assert Account.objects.get(pk=acme.pk).warning_level == WarningLevel.CHURN_WARNING
    # each run keeps its own level: the first day's stays watch
    assert AccountWarning.objects.get(account=acme, as_of=AS_OF).level == WarningLevel.WATCH
    assert services.latest_warning(Account.objects.get(pk=acme.pk)).as_of == later


def test_running_a_date_again_replaces_its_levels_and_an_older_replay_leaves_the_account_alone(world):
    acme = world["acme"]
    services.run(AS_OF)
    services.run(AS_OF + dt.timedelta(days=7))
    services.run(AS_OF + dt.timedelta(days=7))
    assert AccountWarning.objects.filter(account=acme).count() == 2
    services.run(AS_OF)  # a replay of the older date
    assert Account.objects.get(pk=acme.pk).warning_level == WarningLevel.CHURN_WARNING


def test_the_evidence_names_what_fired_what_held_and_the_churn_risk():
    index = pd.Index(["quiet", "watch", "risky"])
    firing = pd.DataFrame({"account": ["watch", "risky", "risky"], "kind": ["tickets_rising", "churn_risk_high", "key_contact_left"]})
    held = pd.DataFrame({"account": ["risky"], "kind": ["churn_risk_high"]})
    risk = pd.Series([0.05, 0.1, 0.5], index=index)
    # risky: one confirmed, one more firing, risk 0.5 against 0.2 = 2.5× the threshold: high
    levels = warning_levels(pd.Series([0, 1, 2], index=index), pd.Series([0, 0, 1], index=index), risk / 0.2)
    assert levels.tolist() == [0, 1, 3]
    evidence = warning_evidence(levels, firing, held, risk, 0.2)
    assert list(evidence.index) == ["watch", "risky"]
    assert evidence["watch"] == {"firing": ["tickets_rising"], "confirmed": [], "churn_risk": 0.1, "threshold": 0.2}
    assert evidence["risky"] == {
        "firing": ["churn_risk_high", "key_contact_left"], "confirmed": ["churn_risk_high"],
        "churn_risk": 0.5, "threshold": 0.2,
    }  # fmt: skip


def test_a_dormant_order_account_is_not_warned_as_if_a_subscription_were_churning(world):
    """沉睡 (DESIGN.md): an account that only ever ordered, with no order and no usage for 180
    days, is dormant; what fires for it (a red health from a detractor's NPS and complaints, an
    overdue payment: at risk, corroborated, for an active customer) leaves it
    on watch, for the reactivation worklist, not at risk."""
    from decimal import Decimal

    from clm.commerce.models import Order, Payment
    from clm.lifecycle.models import StageTransition
    from clm.service.models import SurveyResponse, Ticket

    from .conftest import at

    lapsed = Account.objects.create(name="Lapsed")
    Order.objects.create(account=lapsed, ordered_on=dt.date(2023, 9, 1), amount=Decimal(900))
    Payment.objects.create(account=lapsed, due_on=dt.date(2024, 5, 1), amount=900)  # unpaid
    SurveyResponse.objects.create(account=lapsed, kind="nps", score=1, responded_at=at(dt.date(2024, 6, 15)))
    for day in (5, 12, 19, 26):
        Ticket.objects.create(account=lapsed, subject="?", priority="urgent", category="complaint",
                              opened_at=at(dt.date(2024, 6, day)), first_response_at=at(dt.date(2024, 6, day), 22))
    later = AS_OF + dt.timedelta(days=7)
    services.run(AS_OF)
    record = services.run(later)
    assert StageTransition.objects.filter(account=lapsed).latest("date").to_stage == "dormant"
    warned = AccountWarning.objects.get(account=lapsed, as_of=later)
    # health_red held for its week, corroborated by two more: high risk for a customer still active
    assert warned.evidence["confirmed"] == ["health_red"] and len(warned.evidence["firing"]) == 3
    assert warned.level == WarningLevel.WATCH
    assert Account.objects.get(pk=lapsed.pk).warning_level == WarningLevel.WATCH
    assert record.summary["warnings"].get("watch", 0) >= 1
