"""The real `clm` script run from an empty folder: it names the database it meant, says what to run,
and leaves no traceback and no stray ./var behind."""

import csv
import os
import subprocess
import sys

import pytest

CLM = os.path.join(os.path.dirname(sys.executable), "clm")


@pytest.fixture
def elsewhere(tmp_path):
    """An empty working folder and a fresh home, with none of CLM's settings in the environment."""
    env = {k: v for k, v in os.environ.items() if k not in ("CLM_DATA_DIR", "DATABASE_URL", "XDG_DATA_HOME")}
    env["HOME"] = str(tmp_path / "home")
    folder = tmp_path / "somewhere"
    folder.mkdir()

    def run(*args, **extra_env):
        return subprocess.run(
            [CLM, *args], cwd=folder, env={**env, **extra_env}, capture_output=True, text=True, timeout=180
        )

    run.folder = folder
    run.data_dir = tmp_path / "home" / ".local" / "share" / "clm"
    return run


def test_clm_import_before_any_migrate_names_the_database_and_says_to_migrate(elsewhere):
    done = elsewhere("import", "accounts", "customers.csv")
    assert done.returncode == 2
    assert f"SQLite {elsewhere.data_dir / 'clm.sqlite3'}" in done.stderr
    assert "run `clm migrate`" in done.stderr and "Traceback" not in done.stderr
    assert not (elsewhere.data_dir / "clm.sqlite3").exists()
    assert list(elsewhere.folder.iterdir()) == []


def test_after_clm_migrate_the_same_data_is_found_from_any_folder(elsewhere, tmp_path):
    assert elsewhere("migrate", "-v", "0").returncode == 0
    rows = tmp_path / "customers.csv"
    with rows.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["external_id", "name"], ["A1", "华为"]])
    done = elsewhere("import", "accounts", str(rows), LANGUAGE="en")  # the report in English
    assert done.returncode == 0, done.stderr
    assert "1 created" in done.stdout
    assert list(elsewhere.folder.iterdir()) == []


def test_a_database_with_missing_tables_is_reported_not_a_traceback(elsewhere, tmp_path):
    blank = tmp_path / "blank.sqlite3"
    blank.touch()
    done = elsewhere("export", "accounts", "out.csv", DATABASE_URL=f"sqlite:///{blank}")
    assert done.returncode == 2
    assert f"the database SQLite {blank} is not up to date" in done.stderr
    assert "migrations not applied): run `clm migrate`" in done.stderr and "Traceback" not in done.stderr


def test_an_unreachable_postgresql_is_named_without_its_password(elsewhere):
    done = elsewhere("run", DATABASE_URL="postgresql://clm:s3cret@127.0.0.1:9/clm")
    assert done.returncode == 2
    assert "cannot open the database PostgreSQL clm on 127.0.0.1:9" in done.stderr
    assert "s3cret" not in done.stderr and "Traceback" not in done.stderr


def test_commands_that_need_no_database_are_not_checked(elsewhere):
    assert elsewhere("import", "--help").returncode == 0
    assert elsewhere("clv", "sbg", "--alive", "1000,631,468,382,326").returncode == 0
