"""Before a `clm` command touches the database: which database it is, and whether it is ready.

Run from another folder, CLM once opened a fresh SQLite file there and died on "no such table";
this says which database was meant and what to run instead."""

from pathlib import Path

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections


def describe_database(alias: str = DEFAULT_DB_ALIAS) -> str:
    """The database in words, without its password."""
    settings = connections[alias].settings_dict
    if settings["ENGINE"].endswith("sqlite3"):
        return f"SQLite {Path(settings['NAME']).resolve()}"
    host = settings.get("HOST") or "localhost"
    port = f":{settings['PORT']}" if settings.get("PORT") else ""
    return f"PostgreSQL {settings['NAME']} on {host}{port}"


def database_problem(alias: str = DEFAULT_DB_ALIAS) -> str | None:
    """Why the database cannot serve a command yet, or None when its tables are up to date."""
    connection = connections[alias]
    where = describe_database(alias)
    remedy = "run `clm migrate` to create its tables (or `clm demo` for a demo company)"
    if connection.vendor == "sqlite" and not Path(connection.settings_dict["NAME"]).exists():
        # Checked before connecting: connecting would create an empty file.
        return f"there is no database yet at {where}: {remedy}, or set CLM_DATA_DIR or DATABASE_URL to yours"
    from django.db.migrations.executor import MigrationExecutor

    try:
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as exc:
        return f"cannot open the database {where}: {str(exc).strip()}"
    if pending:
        return f"the database {where} is not up to date ({len(pending)} migrations not applied): {remedy}"
    return None
