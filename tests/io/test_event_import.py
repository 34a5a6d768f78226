"""An events import stores each chunk in a second thread while the next one is checked
(clm.io.engine.StoreBehind), and resolves account references once per import: what it stores,
reports and refuses must not depend on the chunk size, and a database error in that thread must
leave nothing behind."""

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from clm.customers.models import Account
from clm.usage.models import UsageDaily, UsageDailyUser, UsageEvent, UsageFeatureDaily
from tests.io.conftest import run, snapshot

pytestmark = pytest.mark.django_db


def when(hours: int) -> str:
    return (timezone.localtime() - dt.timedelta(hours=hours)).strftime("%Y-%m-%d %H:%M:%S")


ROWS = [["account", "user", "event", "feature", "timestamp", "duration"]] + [
    [f"A{1 + i % 3}", f"u{i % 4}", "report.view" if i % 2 else "login", "reports" if i % 2 else "", when(1 + i % 30), str(30 * (i % 5))]
    for i in range(40)
]


@pytest.fixture
def accounts():
    return [Account.objects.create(name=f"Account {i}", source="import", external_id=f"A{i}") for i in (1, 2, 3)]


def stored():
    """What the events import writes, without ids."""
    events = sorted(UsageEvent.objects.values_list("account__external_id", "user_key", "event", "feature", "occurred_at", "duration_seconds", "idempotency_key"))
    daily = sorted(UsageDaily.objects.values_list("account__external_id", "day", "events", "active_users", "minutes"))
    features = sorted(UsageFeatureDaily.objects.values_list("account__external_id", "day", "feature", "events", "minutes"))
    users = sorted(UsageDailyUser.objects.values_list("account__external_id", "day", "user_key"))
    return events, daily, features, users


def test_small_chunks_store_exactly_what_one_chunk_stores(files, accounts):
    path = files.csv("events.csv", ROWS + ROWS[1:6])  # the last five rows repeat the first five
    report = run("usage_events", path)
    assert (report.rows, report.created, report.unchanged) == (45, 40, 5)
    whole = stored()
    UsageEvent.objects.all().delete()
    for model in (UsageDaily, UsageFeatureDaily, UsageDailyUser):
        model.objects.all().delete()
    report = run("usage_events", path, chunk_rows=3)  # 15 chunks, a duplicate five chunks after its original
    assert (report.rows, report.created, report.unchanged, report.status) == (45, 40, 5, "done")
    assert stored() == whole
    assert run("usage_events", path, chunk_rows=7).unchanged == 45


def test_an_unknown_account_in_a_late_chunk_is_still_refused(files, accounts):
    rows = ROWS[:13] + [["A9", "u1", "login", "", when(2), "0"]] + ROWS[13:20]
    before = snapshot()
    report = run("usage_events", files.csv("events.csv", rows), chunk_rows=4)
    assert report.status == "invalid" and not report.written
    assert report.errors == [{"row": 14, "column": "account", "value": "A9", "reason": "no account with this id or name"}]
    assert snapshot() == before  # nothing written, though earlier chunks had been stored
    report = run("usage_events", files.csv("events.csv", rows), chunk_rows=4, skip_invalid=True)
    assert (report.status, report.created, report.rejected) == ("done", 19, 1)


def test_a_restricted_user_reaches_only_their_accounts_in_every_chunk(files, owner, outsider, team_visibility):
    Account.objects.create(name="Mine", source="import", external_id="M1", sales_owner=owner)
    Account.objects.create(name="Theirs", source="import", external_id="T1", sales_owner=outsider)
    rows = [ROWS[0]] + [["M1" if i != 6 else "T1", "u1", "login", "", when(1 + i), "0"] for i in range(9)]
    report = run("usage_events", files.csv("events.csv", rows), chunk_rows=2, user=owner, skip_invalid=True)
    assert report.errors == [{"row": 8, "column": "account", "value": "T1", "reason": "no account with this id or name"}]
    assert UsageEvent.objects.filter(account__external_id="M1").count() == 8
    assert not UsageEvent.objects.filter(account__external_id="T1").exists()


@pytest.fixture
def refusing_database():
    """A trigger that makes the database itself refuse one event (the checks before cannot see
    it): the error happens in the storing thread, in the middle of the import."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION refuse_event() RETURNS trigger AS $$ BEGIN "
                "IF NEW.user_key = 'refused' THEN RAISE EXCEPTION 'refused by the test trigger'; END IF; "
                "RETURN NEW; END $$ LANGUAGE plpgsql"
            )
            cursor.execute("CREATE TRIGGER refuse_event BEFORE INSERT ON usage_usageevent FOR EACH ROW EXECUTE FUNCTION refuse_event()")
        else:
            cursor.execute(
                "CREATE TRIGGER refuse_event BEFORE INSERT ON usage_usageevent WHEN NEW.user_key = 'refused' "
                "BEGIN SELECT RAISE(ABORT, 'refused by the test trigger'); END"
            )


def test_a_database_error_while_storing_leaves_nothing_and_the_connection_usable(files, accounts, refusing_database):
    rows = ROWS[:21] + [["A1", "refused", "login", "", when(2), "0"]] + ROWS[21:]
    before = snapshot()
    report = run("usage_events", files.csv("events.csv", rows), chunk_rows=5)
    assert report.status == "failed" and not report.written
    assert "refused by the test trigger" in report.problems[0]
    assert snapshot() == before
    assert run("usage_events", files.csv("events.csv", ROWS), chunk_rows=5).created == 40  # the connection still works
