"""The `clm` command: CLM's own commands first, then any Django management command."""

import os
import sys

COMMANDS = {
    "demo": "build the demo company, run the lifecycle computations and serve the web app",
    "serve": "serve the web app on the current data ([--host H] [--port N])",
    "migrate": "create or update the database tables",
    "createsuperuser": "create an administrator",
    "import": "import a CSV/XLSX file: clm import KIND FILE [--skip-invalid] [--mapping NAME]",
    "export": "export records: clm export KIND FILE (.csv or .xlsx)",
    "simulate": "build a simulated customer base: --accounts N --months M --seed S",
    "run": "the daily lifecycle run: metrics → health → stages → signals → churn risk → CLV ([--as-of DATE])",
    "train": "retrain the churn model on the company's own history",
    "fit": "the ICP fit: --train learns the lookalike from the best customers; --report prints ROC AUC and top-decile lift of the rules and the model",
    "backtest": "replay history and measure the early warning and the churn model: --from DATE --to DATE [--step 7d] [--json]",
    "clv": "fit CLV models on a file: clm clv bgnbd FILE ... | clm clv sbg --alive N0,N1,... [--json]",
    "report": "the KPI catalogue with values, targets and inputs: clm report kpis [--as-of DATE] [--period month|quarter|year] [--json]",
    "prune_events": "delete raw usage events older than the retention age (rollups stay)",
    "issue_token": "issue a personal API token for a user",
    "worker": "run the background worker: playbook steps, scheduled jobs ([--workers N])",
    "playbook": "playbooks: templates | list | enable KEY [--holdout F] | export ID FILE | load FILE | dry-run | uplift",
    "backup": "back up the database, uploads and secret key to one .tar.gz: clm backup FILE",
    "restore": "restore a backup into an empty database: clm restore FILE [--force]",
    "privacy": "a person's data (PIPL, GDPR): clm privacy export CONTACT [FILE] | clm privacy erase CONTACT --yes",
    "run_huey": "run the background task worker (without the playbook start-up sweep)",
}

# Commands that create the tables themselves (restore: into an empty database) or never open the database; every other one is
# checked before it runs (clm.core.dbcheck).
WITHOUT_DATABASE_CHECK = {
    "migrate", "demo", "serve", "restore", "makemigrations", "showmigrations", "sqlmigrate", "squashmigrations",
    "check", "compilemessages", "makemessages", "collectstatic", "findstatic", "diffsettings",
    "help", "version", "test", "testserver", "shell", "dbshell", "startapp", "startproject",
}


def needs_database_check(argv: list[str]) -> bool:
    command, rest = argv[1], argv[2:]
    if command in WITHOUT_DATABASE_CHECK or {"-h", "--help", "--version"} & set(rest):
        return False
    if command == "clv":  # fitting a file needs no database; only `clv recompute` does
        return bool(rest) and rest[0] == "recompute"
    return True


# Commands (and sub-commands) that read a file and need neither the database nor the apps: they run
# without django.setup(), which imports every app and through them scikit-learn, about 1.7 s of CPU.
WITHOUT_APPS = {"clv": {"bgnbd", "sbg"}}


def runs_without_apps(argv: list[str]) -> bool:
    rest = argv[2:]
    return argv[1] in WITHOUT_APPS and bool(rest) and rest[0] in WITHOUT_APPS[argv[1]]


def run_without_apps(argv: list[str]) -> int:
    """The command's own module, run as Django would run it, with settings but no app loaded."""
    from importlib import import_module

    from clm.core.env import ConfigError

    modules = {"clv": "clm.value.management.commands.clv"}
    try:
        command = import_module(modules[argv[1]]).Command()
    except ConfigError as exc:
        print(f"clm: configuration error: {exc}", file=sys.stderr)
        return 2
    command.run_from_argv(["clm", *argv[1:]])
    return 0


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: clm COMMAND [options]", "", "CLM — customer lifecycle management. Commands:", ""]
    lines += [f"  {name.ljust(width)}  {text}" for name, text in COMMANDS.items()]
    lines += ["", "`clm COMMAND --help` describes a command's options; any Django management command also works."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    if len(argv) < 2 or argv[1] in ("-h", "--help", "help"):
        print(usage())
        return 0
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clm.settings")
    if runs_without_apps(argv):
        return run_without_apps(argv)
    from clm.core.env import ConfigError

    try:
        import django

        django.setup()
    except ConfigError as exc:
        print(f"clm: configuration error: {exc}", file=sys.stderr)
        return 2
    from django.core.management import execute_from_command_line

    if needs_database_check(argv):
        from clm.core.dbcheck import database_problem

        problem = database_problem()
        if problem:
            print(f"clm {argv[1]}: {problem}", file=sys.stderr)
            return 2
    argv[0] = "clm"
    execute_from_command_line(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
