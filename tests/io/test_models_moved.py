"""The import models moved from clm.core to clm.io by a state-only migration: a database filled
before the move keeps its rows, and permissions given on them stay attached."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("io", None)]  # core.0002 depends on io.0001, so this unapplies both


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    return executor.migrate(targets).apps


@pytest.mark.django_db(transaction=True)
def test_rows_and_permissions_written_before_the_move_survive_it():
    old = migrate(BEFORE)
    user = old.get_model("core", "User").objects.create(username="mover")
    old.get_model("core", "ImportMapping").objects.create(name="erp", kind="accounts", columns={"K": "name"}, created_by=user)
    job = old.get_model("core", "ImportJob").objects.create(
        kind="accounts", file="/tmp/a.csv", original_name="a.csv", status="done", rows_done=12, created_by=user
    )
    permission = old.get_model("auth", "Permission").objects.get(codename="view_importjob")
    group = old.get_model("auth", "Group").objects.create(name="importers")
    group.permissions.add(permission)

    new = migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    from django.contrib.auth.models import Group

    from clm.io.models import ImportJob, ImportMapping

    assert ImportMapping.objects.get().columns == {"K": "name"}
    moved = ImportJob.objects.select_related("created_by").get()
    assert (moved.pk, moved.rows_done, moved.created_by.username) == (job.pk, 12, "mover")
    assert list(Group.objects.get(name="importers").permissions.values_list("content_type__app_label", "codename")) == [
        ("io", "view_importjob")
    ]
    assert new.get_model("io", "ImportJob")._meta.db_table == "core_importjob"
    assert ImportJob.objects.create(kind="contacts", file="/x", original_name="b.csv").pk > job.pk
