"""NRR/GRR by month and the cohort heat maps, checked against an independent computation: pandas
over the raw tables as the API exports them (the subscriptions and each one's change ledger),
written here from the definitions, not with clm.analytics' code — on a random company of 40
accounts with expansions, contractions, churn and returns."""

import datetime as dt
import random

import pandas as pd
import pytest

from clm.customers.models import Account
from clm.reports import figures
from clm.reports.kpis.base import Scope
from clm.reports.periods import Period
from tests.factories import ledger, new_subscription

from .conftest import TODAY

NOV = Period.parse("2026-11")


def random_company(seed: int = 7):
    rng = random.Random(seed)
    for n in range(40):
        account = Account.objects.create(name=f"co{n}")
        start = dt.date(2025, 1, 1) + dt.timedelta(days=rng.randrange(0, 650))
        mrr = rng.choice((300, 500, 800, 1200, 2000))
        subscription = new_subscription(account, start, mrr)
        day = start
        for _ in range(rng.randrange(0, 4)):
            day += dt.timedelta(days=rng.randrange(20, 120))
            if day > dt.date(2026, 11, 30):
                break
            move = rng.random()
            if move < 0.2:  # churn, sometimes back later on a new contract
                ledger(subscription, day, "churn", 0, 0, status="cancelled")
                back = day + dt.timedelta(days=rng.randrange(40, 200))
                if rng.random() < 0.4 and back <= dt.date(2026, 11, 30):
                    subscription = new_subscription(account, back, rng.choice((400, 900)))
                    day = back
                    continue
                break
            mrr = round(mrr * (1.3 if move < 0.6 else 0.7))
            ledger(subscription, day, "expansion" if move < 0.6 else "contraction", mrr, 1)


def exported_mrr(client) -> pd.DataFrame:
    """Month-end MRR per account from the exported subscriptions and ledgers: a contract's MRR at
    a month's end is the mrr_after of its last change on or before that day."""
    subscriptions = client.get("/subscriptions", limit=500).json_body["items"]
    rows = []
    for sub in subscriptions:
        for change in client.get(f"/subscriptions/{sub['id']}/changes", limit=500).json_body["items"]:
            rows.append((sub["account"], sub["id"], change["effective_date"], float(change["mrr_after"])))
    changes = pd.DataFrame(rows, columns=["account", "subscription", "date", "mrr"])
    changes["date"] = pd.to_datetime(changes["date"])
    months = pd.period_range(changes["date"].min().to_period("M"), "2026-11", freq="M")
    table = {}
    for month in months:
        end = month.to_timestamp(how="end")
        last = changes[changes["date"] <= end].sort_values("date", kind="stable").groupby("subscription").last()
        table[month] = last.groupby("account")["mrr"].sum()
    return pd.DataFrame(table).fillna(0.0)  # accounts × months


@pytest.fixture
def company(db):
    random_company()


def test_nrr_and_grr_by_month_match_pandas_over_the_export(company, admin_user, api_as):
    mrr = exported_mrr(api_as(admin_user))
    figure = figures.read("revenue.retention", Scope(admin_user, None, TODAY), NOV)
    assert len(figure["rows"]) == 12
    for month, starting, _exp, _con, _churn, ending, nrr, grr in figure["rows"]:
        now, before = mrr[pd.Period(month, "M")], mrr[pd.Period(month, "M") - 1]
        cohort = before > 0
        assert starting == pytest.approx(before[cohort].sum())
        assert ending == pytest.approx(now[cohort].sum())
        assert nrr == pytest.approx(now[cohort].sum() / before[cohort].sum(), abs=1e-4)
        assert grr == pytest.approx(now[cohort].clip(upper=before[cohort]).sum() / before[cohort].sum(), abs=1e-4)
    assert any(r[6] > 1 for r in figure["rows"]) and any(r[7] < 1 for r in figure["rows"])  # the world moves


def test_cohort_heat_maps_match_pandas_over_the_export(company, admin_user, api_as):
    mrr = exported_mrr(api_as(admin_user))
    first = (mrr > 0).idxmax(axis=1)  # each account's first month with MRR
    scope = Scope(admin_user, None, TODAY)
    logo, revenue = figures.read("cohorts.logo", scope, NOV), figures.read("cohorts.revenue", scope, NOV)
    assert logo["rows"]
    for logo_row, revenue_row in zip(logo["rows"], revenue["rows"], strict=True):
        cohort = pd.Period(logo_row[0], "M")
        members = mrr[first == cohort]
        assert logo_row[1] == len(members)
        for k in range(12):
            month = cohort + k
            if month > pd.Period("2026-11", "M"):
                assert logo_row[2 + k] is None and revenue_row[2 + k] is None
                continue
            assert logo_row[2 + k] == pytest.approx((members[month] > 0).mean(), abs=1e-4)
            assert revenue_row[2 + k] == pytest.approx(members[month].sum() / members[cohort].sum(), abs=1e-4)
