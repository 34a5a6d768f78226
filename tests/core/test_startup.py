"""Start-up loads no analytics stack: every app's models and admin import without numpy, pandas,
scipy or scikit-learn (they cost about a second of CPU; `clm check`, `clm --help` and the admin's
start-up read none of them). The analytics core is imported where a definition is parsed or a
frame computed. Run in a fresh interpreter, as `clm` runs."""

import json
import subprocess
import sys

import pytest
from django.core.exceptions import ValidationError

HEAVY = ("numpy", "pandas", "scipy", "sklearn")

# the apps' models, then their admin modules, with the apps' ready() hooks (event listeners, task
# discovery) left out: what the models and the admin reach on their own
MODELS_AND_ADMIN = f"""
import json, os, sys
from importlib import import_module
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clm.settings")
from django.apps import AppConfig, apps
from django.conf import settings
for name in settings.INSTALLED_APPS:
    if name.startswith("clm"):
        import_module(name + ".apps")
def subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from subclasses(sub)
for cls in list(subclasses(AppConfig)):
    cls.ready = lambda self: None
apps.populate(settings.INSTALLED_APPS)
after_models = sorted(m for m in {HEAVY!r} if m in sys.modules)
admins = []
for app in apps.get_app_configs():
    if app.name.startswith("clm"):
        try:
            import_module(app.name + ".admin")
            admins.append(app.name)
        except ModuleNotFoundError:
            pass
print(json.dumps([after_models, sorted(m for m in {HEAVY!r} if m in sys.modules), admins]))
"""


def test_models_and_admin_import_no_numpy_pandas_or_sklearn(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", MODELS_AND_ADMIN],
        env={"CLM_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    after_models, after_admin, admins = json.loads(done.stdout)
    assert after_models == []
    assert after_admin == []
    assert {"clm.lifecycle", "clm.reports", "clm.sales", "clm.value"} <= set(admins)


def test_the_lazy_imports_still_parse_and_compute(db):
    """What moved inside functions still works: a stored rule set and health model parse (the
    models import the analytics core on use), and the holiday calendar counts working days."""
    import datetime as dt

    from clm.analytics.warning import DEFAULT_SIGNALS_DATA
    from clm.lifecycle.models import Holiday, RuleSet

    rules = RuleSet(kind=RuleSet.Kind.SIGNALS, definition=DEFAULT_SIGNALS_DATA).parsed()
    assert "login_drop" in rules.kinds
    Holiday.objects.all().delete()
    Holiday.objects.create(day=dt.date(2026, 10, 1), kind=Holiday.Kind.DAY_OFF, name="国庆节")
    Holiday.objects.create(day=dt.date(2026, 10, 10), kind=Holiday.Kind.WORKDAY, name="国庆节调休")
    # 2026-09-28 (Mon) to 2026-10-11 (Sun): ten weekdays, less 1 October, plus Saturday 10 October
    assert len(Holiday.working_days(dt.date(2026, 9, 28), dt.date(2026, 10, 11))) == 10
    with pytest.raises(ValidationError) as refused:
        RuleSet(kind=RuleSet.Kind.SIGNALS, definition={"signals": []}).parsed()
    assert "signals" in refused.value.message_dict["definition"][0]
