"""Backups: one .tar.gz holding the database, the uploads (MEDIA_ROOT), the secret key and a
manifest with each table's row count and checksum, and the restore that checks them.

SQLite is copied with its online backup API, so a backup is consistent while the server writes.
PostgreSQL is dumped by pg_dump (custom format) inside a repeatable-read snapshot that the manifest's
counts are taken from as well, and restored by pg_restore."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite3"
PG_FILE = "database.dump"
SECRET_FILE = "secret_key"
# Django's SQLite connections convert columns by their declared types (converters registered
# globally by its backend); digests read through the same conversions whichever connection reads.
SQLITE_TYPES = sqlite3.PARSE_DECLTYPES | sqlite3.PARSE_COLNAMES
MEDIA_DIR = "media"


class BackupError(Exception):
    """A backup or restore that cannot go ahead, with what to do about it."""


@dataclass
class Restored:
    engine: str
    tables: int
    rows: int
    media_files: int
    mismatches: list[str]
    secret_key_overridden: bool  # SECRET_KEY in the environment differs from the backup's key


# --- table checksums ---------------------------------------------------------------------------


def table_names(cursor, engine: str) -> list[str]:
    if engine == "sqlite":
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
    else:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename")
    return [row[0] for row in cursor.fetchall()]


def _cell(value) -> str:
    if isinstance(value, memoryview | bytes):
        return bytes(value).hex()
    return repr(value)


def _rows_query(cursor, engine: str, table: str) -> str:
    if engine == "postgresql":
        # Each row as PostgreSQL's own text, in UTC: the same whatever the client's type adapters.
        cursor.execute("SET TIME ZONE 'UTC'")
        return f'SELECT t::text FROM "{table}" AS t ORDER BY t::text COLLATE "C"'
    cursor.execute(f'SELECT * FROM "{table}" LIMIT 0')
    order = ", ".join(str(i) for i in range(1, len(cursor.description) + 1))
    return f'SELECT * FROM "{table}" ORDER BY {order}'


def table_digests(cursor, engine: str) -> dict[str, dict]:
    """{table: {"rows": n, "sha256": hex}} over every row of every table, in a stable order.
    Compare digests within one engine: SQLite and PostgreSQL spell values differently."""
    digests = {}
    for table in table_names(cursor, engine):
        cursor.execute(_rows_query(cursor, engine, table))
        digest, rows = hashlib.sha256(), 0
        while batch := cursor.fetchmany(5000):
            for row in batch:
                digest.update("\x1f".join(_cell(v) for v in row).encode())
                digest.update(b"\x1e")
            rows += len(batch)
        digests[table] = {"rows": rows, "sha256": digest.hexdigest()}
    return digests


# --- backup ------------------------------------------------------------------------------------


def _engine(alias: str = "default") -> str:
    vendor = connections[alias].vendor
    if vendor not in ("sqlite", "postgresql"):
        raise BackupError(f"backups support SQLite and PostgreSQL, not {vendor}")
    return vendor


def _pg_env_args(database: dict) -> tuple[dict, list[str]]:
    env = {**os.environ}
    if database.get("PASSWORD"):
        env["PGPASSWORD"] = str(database["PASSWORD"])
    args = []
    for option, key in (("--host", "HOST"), ("--port", "PORT"), ("--username", "USER")):
        if database.get(key):
            args += [option, str(database[key])]
    return env, args


def _require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise BackupError(
            f"{tool} is not installed: PostgreSQL backups need PostgreSQL's client tools "
            f"(Debian/Ubuntu: apt-get install postgresql-client, of the server's major version or newer)"
        )
    return path


def _run(command: list[str], env: dict) -> None:
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} failed ({result.returncode}): {result.stderr.strip()[-2000:]}")


def _dump_sqlite(workdir: Path, alias: str) -> dict:
    connection = connections[alias]
    connection.ensure_connection()
    target = workdir / SQLITE_FILE
    copy = sqlite3.connect(target, detect_types=SQLITE_TYPES)
    try:
        connection.connection.backup(copy)
        return table_digests(copy.cursor(), "sqlite")
    finally:
        copy.close()


def _dump_postgresql(workdir: Path, alias: str) -> dict:
    pg_dump = _require("pg_dump")
    connection = connections[alias]
    database = connection.settings_dict
    env, args = _pg_env_args(database)
    with transaction.atomic(using=alias):
        with connection.cursor() as cursor:
            # pg_dump reads the snapshot the counts are taken in: the manifest describes the dump.
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
            _run(
                [pg_dump, *args, "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}",
                 "--file", str(workdir / PG_FILE), database["NAME"]],
                env,
            )
            return table_digests(cursor, "postgresql")


def backup(path: str | Path, *, alias: str = "default") -> dict:
    """Write a backup to `path` (.tar.gz) and return its manifest."""
    path = Path(path)
    engine = _engine(alias)
    media_root = Path(settings.MEDIA_ROOT)
    with tempfile.TemporaryDirectory(prefix="clm-backup-") as tmp:
        workdir = Path(tmp)
        tables = _dump_sqlite(workdir, alias) if engine == "sqlite" else _dump_postgresql(workdir, alias)
        media = sorted(p for p in media_root.rglob("*") if p.is_file()) if media_root.is_dir() else []
        manifest = {
            "format": FORMAT,
            "created_at": timezone.now().isoformat(),
            "engine": engine,
            "database": SQLITE_FILE if engine == "sqlite" else PG_FILE,
            "tables": tables,
            "media_files": len(media),
        }
        partial = path.with_name(path.name + ".partial")
        try:
            with tarfile.open(partial, "w:gz") as tar:
                _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=2).encode())
                tar.add(workdir / manifest["database"], arcname=manifest["database"])
                _add_bytes(tar, SECRET_FILE, settings.SECRET_KEY.encode(), mode=0o600)
                for file in media:
                    tar.add(file, arcname=f"{MEDIA_DIR}/{file.relative_to(media_root).as_posix()}")
            partial.replace(path)  # a backup file is whole or absent
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise BackupError(f"cannot write {path}: {exc}") from None
    return manifest


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, int(timezone.now().timestamp())
    tar.addfile(info, io.BytesIO(data))


# --- restore -----------------------------------------------------------------------------------


def read_manifest(tar: tarfile.TarFile, path: Path) -> dict:
    try:
        manifest = json.load(tar.extractfile(MANIFEST))
    except (KeyError, ValueError, TypeError):
        raise BackupError(f"{path} is not a CLM backup: it has no readable {MANIFEST}") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{path} is a backup of format {manifest.get('format')!r}; this CLM reads format {FORMAT}")
    return manifest


def restore(path: str | Path, *, force: bool = False, alias: str = "default") -> Restored:
    """Restore a backup into the configured database, MEDIA_ROOT and data directory. Refuses a
    database that already has tables unless `force`, then checks every table against the manifest."""
    path = Path(path)
    engine = _engine(alias)
    try:
        tar = tarfile.open(path, "r:gz")
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"cannot read {path}: {exc}") from None
    with tar, tempfile.TemporaryDirectory(prefix="clm-restore-") as tmp:
        manifest = read_manifest(tar, path)
        if manifest["engine"] != engine:
            raise BackupError(
                f"{path} is a {manifest['engine']} backup and the configured database is {engine}: "
                f"restore it into a {manifest['engine']} database (set or unset DATABASE_URL)"
            )
        connection = connections[alias]
        with connection.cursor() as cursor:
            existing = table_names(cursor, engine)
        if existing and not force:
            raise BackupError(
                f"the target database already has {len(existing)} tables: restoring replaces them; "
                f"add --force to do so, or point CLM at an empty database"
            )
        tar.extractall(tmp, filter="data")
        workdir = Path(tmp)
        if engine == "sqlite":
            _restore_sqlite(workdir / SQLITE_FILE, alias)
        else:
            _restore_postgresql(workdir / PG_FILE, alias, clean=bool(existing))
        media_files = _restore_media(workdir / MEDIA_DIR)
        key = (workdir / SECRET_FILE).read_text()
        _restore_secret_key(key)
        overridden = bool(os.environ.get("SECRET_KEY")) and os.environ["SECRET_KEY"] != key
    with connection.cursor() as cursor:
        found = table_digests(cursor, engine)
    expected = manifest["tables"]
    mismatches = [
        f"{table}: expected {expected[table]['rows']} rows, found {found.get(table, {}).get('rows', 'no table')}"
        for table in expected
        if found.get(table) != expected[table]
    ]
    return Restored(engine, len(found), sum(t["rows"] for t in found.values()), media_files, mismatches, overridden)


def _restore_sqlite(source: Path, alias: str) -> None:
    connection = connections[alias]
    connection.ensure_connection()
    copy = sqlite3.connect(source)
    try:
        copy.backup(connection.connection)  # page by page, replacing whatever the target held
    finally:
        copy.close()


def _restore_postgresql(dump: Path, alias: str, *, clean: bool) -> None:
    pg_restore = _require("pg_restore")
    database = connections[alias].settings_dict
    connections[alias].close()
    env, args = _pg_env_args(database)
    extra = ["--clean", "--if-exists"] if clean else []
    _run([pg_restore, *args, *extra, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
          "--dbname", database["NAME"], str(dump)], env)


def _restore_media(source: Path) -> int:
    if not source.is_dir():
        return 0
    target = Path(settings.MEDIA_ROOT)
    shutil.copytree(source, target, dirs_exist_ok=True)
    return sum(1 for p in source.rglob("*") if p.is_file())


def _restore_secret_key(key: str) -> None:
    """The key goes where settings read it when SECRET_KEY is not set (sessions, tokens and the
    privacy pseudonyms depend on it)."""
    key_file = Path(settings.DATA_DIR) / "secret_key"
    key_file.write_text(key)
    key_file.chmod(0o600)
