"""Benchmark the `clm` command end to end, as a user runs it: `clm --help`, and `clm clv bgnbd` on
CDNOW_master (69,659 purchases, 23,570 customers), against references run in the same process:

- a `lifetimes` script doing the same work (read the file, calibration/holdout split, BG/NBD and
  Gamma-Gamma fits, expected holdout purchases), when a Python with lifetimes 0.11.3 is found
  (LIFETIMES_PYTHON, as in bench/bench_bgnbd.py);
- the same `clm clv bgnbd` with every app loaded first (django.setup(), as before the command ran
  without apps), which this bench can always run.

    python bench/bench_cli.py [--repeat 5] [--startup-only]

Each run is a fresh interpreter; the figures are the median wall time and the median CPU time
(user + system of the child). CPU time is the fairer figure on a busy machine. Goal: `clm clv
bgnbd` at least 3x faster than the lifetimes script, end to end.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CDNOW = Path(os.environ.get("CDNOW_MASTER", "/work/shared/data/CDNOW_master.txt"))
if not CDNOW.exists():
    CDNOW = ROOT / "tests" / "data" / "cdnow" / "CDNOW_master.txt"
CLM = Path(sys.executable).with_name("clm")
CALIBRATION_END = "1997-09-30"
CLV_ARGS = [
    "clv", "bgnbd", str(CDNOW), "--customer", "customer_id", "--date", "date", "--amount", "dollar_value",
    "--sep", "whitespace", "--date-format", "%Y%m%d", "--calibration-end", CALIBRATION_END,
]

LIFETIMES_SCRIPT = f"""
import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter
from lifetimes.utils import calibration_and_holdout_data

purchases = pd.read_csv({str(CDNOW)!r}, sep=r"\\s+", dtype={{"customer_id": str, "date": str}})
purchases["date"] = pd.to_datetime(purchases["date"], format="%Y%m%d")
summary = calibration_and_holdout_data(
    purchases, "customer_id", "date", calibration_period_end={CALIBRATION_END!r},
    observation_period_end=purchases["date"].max(), freq="W", monetary_value_col="dollar_value",
)
bg = BetaGeoFitter().fit(summary["frequency_cal"], summary["recency_cal"], summary["T_cal"])
repeat = summary[(summary["frequency_cal"] > 0) & (summary["monetary_value_cal"] > 0)]
gg = GammaGammaFitter().fit(repeat["frequency_cal"], repeat["monetary_value_cal"])
predicted = bg.conditional_expected_number_of_purchases_up_to_time(
    summary["duration_holdout"], summary["frequency_cal"], summary["recency_cal"], summary["T_cal"])
print(bg.params_.round(4).to_dict(), gg.params_.round(3).to_dict(), round(predicted.mean(), 3))
"""

# every app's models and admin with the apps' ready() hooks left out (what the models and the admin
# reach on their own; tests/core/test_startup.py checks none of numpy, pandas, scikit-learn is among it)
MODELS_AND_ADMIN = """
import os
from importlib import import_module
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
for app in apps.get_app_configs():
    if app.name.startswith("clm"):
        try:
            import_module(app.name + ".admin")
        except ModuleNotFoundError:
            pass
"""
ANALYTICS_STACK = "import numpy, pandas, sklearn.metrics"

FULL_SETUP = """
import sys
import django
django.setup()
from django.core.management import call_command
call_command(*sys.argv[1:])
"""


def run(command: list[str], env: dict | None = None, accept_exit: bool = False) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the child, its output) of one fresh run (``accept_exit``: an
    exit status other than 0 is fine, as argparse's after --help through call_command)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **(env or {})}, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0 and not accept_exit:
        raise SystemExit(f"{' '.join(command[:3])}… failed:\n{done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def measure(
    label: str, command: list[str], repeat: int, env: dict | None = None, accept_exit: bool = False
) -> tuple[float, float]:
    runs = [run(command, env, accept_exit) for _ in range(repeat)]
    wall = statistics.median(r[0] for r in runs)
    cpu = statistics.median(r[1] for r in runs)
    print(f"  {label:<44} wall {wall * 1000:8.0f} ms   CPU {cpu * 1000:8.0f} ms   (median of {repeat})")
    return wall, cpu


def lifetimes_python() -> str | None:
    python = os.environ.get("LIFETIMES_PYTHON")
    if python:
        return python
    try:
        import lifetimes  # noqa: F401

        return sys.executable
    except ImportError:
        return None


def ratio(label: str, reference: tuple[float, float], ours: tuple[float, float], goal: float | None = None) -> None:
    target = f" (goal >= {goal:.0f}x)" if goal else ""
    print(f"  {label}: {reference[0] / ours[0]:.1f}x by wall time, {reference[1] / ours[1]:.1f}x by CPU time{target}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--startup-only", action="store_true", help="measure the start-up (models, admin, check) only")
    args = parser.parse_args()
    data_dir = tempfile.mkdtemp(prefix="clm-bench-cli-")
    env = {"CLM_DATA_DIR": data_dir, "DJANGO_SETTINGS_MODULE": "clm.settings", "OPENBLAS_NUM_THREADS": "1"}
    os.environ.update(env)  # one BLAS thread for every run: fairer on a busy machine
    print(f"{CDNOW.name}: `clm` end to end, each run a fresh interpreter ({os.cpu_count()} CPUs, load "
          f"{os.getloadavg()[0]:.1f})")

    print("clm --help")
    help_ours = measure("clm --help", [str(CLM), "--help"], args.repeat)
    help_django = measure("reference: Django's command list (all apps)", [sys.executable, "-m", "django", "help"],
                          args.repeat)
    ratio("clm --help against the full start-up", help_django, help_ours)

    print("start-up: every app's models and admin (ready hooks left out), and `clm check`")
    lean = measure("models and admin", [sys.executable, "-c", MODELS_AND_ADMIN], args.repeat)
    heavy = measure("reference: the same plus numpy, pandas, sklearn", [sys.executable, "-c",
                    MODELS_AND_ADMIN + ANALYTICS_STACK], args.repeat)
    ratio("against importing the analytics stack too (as the models did)", heavy, lean)
    measure("clm check (the apps' listeners and the URLs too)", [str(CLM), "check"], args.repeat)
    if args.startup_only:
        return

    print("clm clv bgnbd --help (the arguments only: numpy, pandas and scipy are imported once they are accepted)")
    help_clv = measure("clm clv bgnbd --help", [str(CLM), "clv", "bgnbd", "--help"], args.repeat)
    help_full = measure("reference: the same with every app loaded", [sys.executable, "-c", FULL_SETUP, "clv", "bgnbd",
                        "--help"], args.repeat, accept_exit=True)
    ratio("against every app loaded", help_full, help_clv, goal=3)

    print("clm clv bgnbd (read, calibration/holdout, BG/NBD + Gamma-Gamma, holdout table)")
    ours = measure("clm clv bgnbd", [str(CLM), *CLV_ARGS], args.repeat)
    full = measure("reference: the same with every app loaded", [sys.executable, "-c", FULL_SETUP, *CLV_ARGS],
                   args.repeat)
    ratio("against every app loaded", full, ours)
    python = lifetimes_python()
    if python is None:
        print("  lifetimes: not found (set LIFETIMES_PYTHON to a Python with lifetimes==0.11.3, see "
              "bench/bench_bgnbd.py); compared with the full start-up only")
        return
    theirs = measure("reference: the lifetimes 0.11.3 script", [python, "-c", LIFETIMES_SCRIPT], args.repeat)
    ratio("against lifetimes", theirs, ours, goal=3)


if __name__ == "__main__":
    main()
