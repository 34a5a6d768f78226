"""clm backup and clm restore: a backup restored into an empty data directory holds every table
as it was (row counts and a checksum per table), the uploads and the secret key; restore refuses a
database that already has tables unless --force. On SQLite always, on PostgreSQL when pg_dump runs."""

import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from clm.core.backup import SQLITE_TYPES, table_digests
from clm.customers.models import Contact
from tests.factories import make_account

CLM = str(Path(sys.executable).with_name("clm"))


@pytest.fixture
def company(transactional_db, settings, tmp_path):
    """A little committed data (pg_dump reads it from another process) and one uploaded file."""
    settings.MEDIA_ROOT = tmp_path / "media-source"
    (settings.MEDIA_ROOT / "imports").mkdir(parents=True)
    (settings.MEDIA_ROOT / "imports" / "contacts.csv").write_text("name,email\n张三,z@example.cn\n", encoding="utf-8")
    for i in range(3):
        account = make_account(f"客户 {i}", custom={"tier": i, "note": "季度回顾"})
        Contact.objects.create(account=account, name=f"联系人 {i}", email=f"c{i}@example.cn")
    return settings


def clm(*args, env):
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SECRET_KEY", "CLM_DATA_DIR")}
    return subprocess.run([CLM, *args], env={**base, **env}, capture_output=True, text=True, timeout=300)


def source_digests():
    with connection.cursor() as cursor:
        return table_digests(cursor, connection.vendor)


def test_a_backup_restores_into_an_empty_data_directory_on_sqlite(company, tmp_path):
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite round trip (the PostgreSQL one is below)")
    archive = tmp_path / "clm.tar.gz"
    call_command("backup", str(archive))
    with tarfile.open(archive) as tar:
        assert {"manifest.json", "database.sqlite3", "secret_key", "media/imports/contacts.csv"} <= set(tar.getnames())

    data = tmp_path / "restored"
    result = clm("restore", str(archive), env={"CLM_DATA_DIR": str(data)})
    assert result.returncode == 0, result.stderr
    assert "rows checked" in result.stdout

    restored = sqlite3.connect(data / "clm.sqlite3", detect_types=SQLITE_TYPES)
    expected = source_digests()
    assert "customers_contact" in expected and expected["customers_contact"]["rows"] == 3
    assert table_digests(restored.cursor(), "sqlite") == expected
    restored.close()
    assert (data / "media" / "imports" / "contacts.csv").read_text(encoding="utf-8").endswith("张三,z@example.cn\n")
    assert (data / "secret_key").read_text() == settings.SECRET_KEY

    again = clm("restore", str(archive), env={"CLM_DATA_DIR": str(data)})
    assert again.returncode != 0 and "already has" in again.stderr and "--force" in again.stderr
    forced = clm("restore", str(archive), "--force", env={"CLM_DATA_DIR": str(data)})
    assert forced.returncode == 0, forced.stderr


@pytest.fixture
def empty_postgres_database():
    """A database of its own beside the test database, dropped afterwards."""
    import psycopg

    name = connection.settings_dict["NAME"] + "_restore"
    dsn = {k: v for k, v in {
        "host": connection.settings_dict["HOST"], "port": connection.settings_dict["PORT"],
        "user": connection.settings_dict["USER"], "password": connection.settings_dict["PASSWORD"],
    }.items() if v}
    with psycopg.connect(dbname="postgres", autocommit=True, **dsn) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    url = "postgresql://{user}{password}@{host}:{port}/{name}".format(
        user=dsn.get("user", ""), password=(":" + dsn["password"]) if dsn.get("password") else "",
        host=dsn.get("host", "127.0.0.1"), port=dsn.get("port", 5432), name=name,
    )
    yield url, dict(dbname=name, **dsn)
    with psycopg.connect(dbname="postgres", autocommit=True, **dsn) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_backup_restores_into_an_empty_database_on_postgresql(company, postgres_only, empty_postgres_database, tmp_path):
    if shutil.which("pg_dump") is None:
        pytest.skip("pg_dump is not installed")
    import psycopg

    url, dsn = empty_postgres_database
    archive = tmp_path / "clm.tar.gz"
    call_command("backup", str(archive))
    data = tmp_path / "restored"
    result = clm("restore", str(archive), env={"CLM_DATA_DIR": str(data), "DATABASE_URL": url})
    assert result.returncode == 0, result.stderr

    with psycopg.connect(**dsn) as restored:
        found = table_digests(restored.cursor(), "postgresql")
    expected = source_digests()
    assert expected["customers_account"]["rows"] == 3
    assert found == expected
    assert (data / "media" / "imports" / "contacts.csv").exists()
    assert (data / "secret_key").read_text() == settings.SECRET_KEY

    again = clm("restore", str(archive), env={"CLM_DATA_DIR": str(data), "DATABASE_URL": url})
    assert again.returncode != 0 and "already has" in again.stderr
    forced = clm("restore", str(archive), "--force", env={"CLM_DATA_DIR": str(data), "DATABASE_URL": url})
    assert forced.returncode == 0, forced.stderr


def test_it_refuses_a_file_that_is_not_a_backup(db, tmp_path):
    bogus = tmp_path / "bogus.tar.gz"
    bogus.write_bytes(b"not a tar")
    with pytest.raises(CommandError, match="cannot read"):
        call_command("restore", str(bogus))
    with tarfile.open(tmp_path / "other.tar.gz", "w:gz") as tar:
        tar.add(bogus, arcname="x")
    with pytest.raises(CommandError, match="not a CLM backup"):
        call_command("restore", str(tmp_path / "other.tar.gz"))


def test_a_postgresql_backup_without_pg_dump_says_what_to_install(db, postgres_only, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no pg_dump on this PATH
    with pytest.raises(CommandError, match="pg_dump is not installed.*postgresql-client"):
        call_command("backup", str(tmp_path / "x.tar.gz"))
    assert not (tmp_path / "x.tar.gz").exists()
