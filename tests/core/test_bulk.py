"""clm.core.bulk: the one bulk insert/upsert seam (multi-row VALUES on SQLite, COPY on PostgreSQL)."""

import pytest
from django.db import IntegrityError, connection, transaction

from clm.core import bulk
from clm.usage.models import Feature

pytestmark = pytest.mark.django_db

COLUMNS = ["key", "name", "is_core"]


def test_it_returns_only_the_rows_it_inserted_when_conflicts_are_ignored():
    assert bulk.insert(Feature, COLUMNS, [("a", "A", False), ("b", "B", True)], conflict=["key"], returning=["key"]) == [
        ("a",),
        ("b",),
    ]
    again = bulk.insert(Feature, COLUMNS, [("b", "B2", False), ("c", "C", False)], conflict=["key"], returning=["key"])
    assert again == [("c",)]
    assert dict(Feature.objects.values_list("key", "name")) == {"a": "A", "b": "B", "c": "C"}


def test_a_batch_whose_first_row_is_new_but_a_later_one_conflicts_is_rolled_back_and_retried():
    bulk.insert(Feature, COLUMNS, [("b", "B", False)])
    rows = [("a", "A", False), ("b", "B2", False), ("c", "C", False)]  # the straight-in attempt fails at "b"
    assert bulk.insert(Feature, COLUMNS, rows, conflict=["key"], returning=["key"]) == [("a",), ("c",)]
    assert dict(Feature.objects.values_list("key", "name")) == {"a": "A", "b": "B", "c": "C"}


def test_a_broken_rule_other_than_the_conflict_raises_djangos_integrity_error():
    with pytest.raises(IntegrityError), transaction.atomic():
        bulk.insert(Feature, COLUMNS, [("x", "X", False), ("y", None, False)], conflict=["key"], returning=["key"])
    assert not Feature.objects.exists()


def test_rows_given_as_columns_are_written_as_rows_are():
    n = bulk.MAX_VARIABLES // 3 + 7  # more than one statement on SQLite
    keys, names = [f"k{i}" for i in range(n)], [f"N{i}" for i in range(n)]
    columns = bulk.Columns([keys, names, [False] * n])
    assert bulk.insert(Feature, COLUMNS, columns, conflict=["key"], returning=["key"]) == [(k,) for k in keys]
    again = bulk.Columns([["k0", "new"], ["x", "y"], [True, True]])
    assert bulk.insert(Feature, COLUMNS, again, conflict=["key"], returning=["key", "name"]) == [("new", "y")]
    assert Feature.objects.count() == n + 1 and Feature.objects.get(key="k0").name == "N0"


def test_insert_new_says_all_went_in_or_which_did():
    rows = [("a", "", False), ("b", "", False)]
    assert bulk.insert_new(Feature, COLUMNS, rows, conflict=["key"], returning=["key"]) is None
    assert bulk.insert_new(Feature, COLUMNS, [*rows, ("c", "", False)], conflict=["key"], returning=["key"]) == [("c",)]
    assert bulk.insert_new(Feature, COLUMNS, [], conflict=["key"], returning=["key"]) == []


def test_it_updates_on_conflict_when_asked():
    bulk.insert(Feature, COLUMNS, [("a", "old", False)])
    bulk.insert(Feature, COLUMNS, [("a", "new", True), ("b", "B", False)], conflict=["key"], update=["name", "is_core"])
    assert set(Feature.objects.values_list("key", "name", "is_core")) == {("a", "new", True), ("b", "B", False)}


def test_it_splits_more_rows_than_one_statement_takes():
    rows = [(f"k{i}", "", False) for i in range(bulk.MAX_VARIABLES // 3 * 2 + 5)]
    assert len(bulk.insert(Feature, COLUMNS, rows, conflict=["key"], returning=["key"])) == len(rows)
    assert bulk.insert(Feature, COLUMNS, rows, conflict=["key"], returning=["key"]) == []
    assert Feature.objects.count() == len(rows)


def test_savepoints_of_the_connections_earlier_transactions_do_not_count():
    # Django numbers savepoints for the connection's whole life: a server process that has run
    # for a day must still go straight in (in CI, after the API tests, this once did not).
    before = connection.savepoint_state
    connection.savepoint_state = before + 10 * bulk.DIRECT_COPY_SAVEPOINTS
    rows = [("a", "", False), ("b", "", False)]
    assert bulk.insert_new(Feature, COLUMNS, rows, conflict=["key"], returning=["key"]) is None


@pytest.mark.skipif(connection.vendor != "postgresql", reason="savepoints for direct COPY exist on PostgreSQL only")
def test_a_long_transaction_stops_trying_direct_copies_before_subtransactions_pile_up():
    with transaction.atomic():
        before = connection.savepoint_state  # the test harness's own savepoints count too
        for i in range(bulk.DIRECT_COPY_SAVEPOINTS + 20):
            rows = [("same", "", False), (f"new{i}", "", False)]  # one conflict: the direct COPY fails
            inserted = bulk.insert_new(Feature, COLUMNS, rows, conflict=["key"], returning=["key"])
            assert inserted == (None if i == 0 else [(f"new{i}",)])
        assert connection.savepoint_state - before <= bulk.DIRECT_COPY_SAVEPOINTS
    assert Feature.objects.count() == bulk.DIRECT_COPY_SAVEPOINTS + 21


@pytest.mark.skipif(connection.vendor != "postgresql", reason="ids are drawn ahead on PostgreSQL only")
def test_ids_drawn_ahead_are_new_and_distinct_and_never_drawn_again():
    before = Feature.objects.create(key="before").pk
    ids = bulk.allocate_ids(Feature, 500)
    assert len(set(ids)) == 500 and min(ids) > before
    bulk.insert(Feature, ["id", *COLUMNS], [(i, f"k{i}", "", False) for i in ids])
    assert Feature.objects.create(key="after").pk > max(ids)  # the table's own inserts go on past them
    assert Feature.objects.count() == 502


def test_save_fields_writes_each_objects_fields_to_its_row_in_one_statement(django_assert_num_queries):
    import datetime as dt

    from clm.automation.models import Delivery

    rows = [Delivery.objects.create(key=f"k{i}", channel="email") for i in range(3)]
    at = dt.datetime(2025, 3, 1, 8, 30, 15, 250000, tzinfo=dt.UTC)
    for i, row in enumerate(rows[:2]):
        row.status, row.sent_at, row.links, row.subject = "sent", at, [f"https://e.example/{i}"], f"第{i}封"
    rows[2].subject = "not written"
    with django_assert_num_queries(0):  # under Django's cursor: the driver's own executemany
        bulk.save_fields(rows[:2], ["status", "sent_at", "links", "subject"])
    got = {d.key: (d.status, d.sent_at, d.links, d.subject) for d in Delivery.objects.all()}
    assert got == {
        "k0": ("sent", at, ["https://e.example/0"], "第0封"),
        "k1": ("sent", at, ["https://e.example/1"], "第1封"),
        "k2": ("queued", None, [], ""),
    }
    assert Delivery.objects.filter(sent_at__lte=at, sent_at__gte=at).count() == 2  # stored as Django stores it
