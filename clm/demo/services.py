"""What `clm demo` runs once the demo company is built."""

import datetime as dt
from dataclasses import dataclass, field

from django.db import connection

from clm.analytics import health, stages, tiers, warning
from clm.analytics.churn import NotEnoughHistory
from clm.core.models import Workspace
from clm.customers.services import fill_search_keys
from clm.demo import leads as demo_leads
from clm.demo.dashboards import prepare as prepare_dashboards
from clm.lifecycle import services as lifecycle
from clm.lifecycle import training
from clm.lifecycle.models import ChurnModel, HealthModel, RuleSet
from clm.value.models import TierRule

HISTORY_MONTHS = 12  # a year of health history for the trend on the account page


def history_dates(as_of: dt.date) -> list[dt.date]:
    """Every four weeks over the past year, then a week before as_of (so that signals which held
    for a week are confirmed today), then as_of."""
    dates = [as_of - dt.timedelta(days=28 * k) for k in range(HISTORY_MONTHS, 0, -1)]
    return [*dates, as_of - dt.timedelta(days=7), as_of]


def write_configuration() -> list[str]:
    """The settings the engine runs on, as rows an admin edits (Workspace, the default health
    model, the stage and signal rules, the value tiers): the built-in defaults, where no row is."""
    written = []
    if not Workspace.objects.exists():
        Workspace.current().save()
        written.append("workspace")
    if not HealthModel.objects.exists():
        HealthModel.objects.create(name=health.DEFAULT_MODEL.name, definition=health.DEFAULT_MODEL.to_dict())
        written.append("health model")
    for kind, rules in ((RuleSet.Kind.STAGES, stages.DEFAULT_STAGE_RULES), (RuleSet.Kind.SIGNALS, warning.DEFAULT_SIGNALS)):
        if not RuleSet.objects.filter(kind=kind).exists():
            RuleSet.objects.create(kind=kind, definition=rules.to_dict())
            written.append(f"{kind} rules")
    if not TierRule.objects.exists():
        TierRule.objects.bulk_create(
            TierRule(position=i, key=t.key, label=t.label, label_zh=t.label_zh,
                     min_tenure_years=t.min_tenure_years, min_total_revenue=t.min_total_revenue)
            for i, t in enumerate(tiers.DEFAULT_TIERS, start=1)
        )
        written.append("tier rules")
    return written


@dataclass
class AfterBuild:
    steps: list[str] = field(default_factory=list)
    model: ChurnModel | None = None  # the churn model trained, with its validation in metadata
    no_model: str = ""  # why none was trained


def after_build(
    as_of: dt.date,
    progress=None,
    *,
    result=None,
    playbooks: dict[str, float] | None = None,
    train: bool = True,
) -> AfterBuild:
    """Run the lifecycle computations over the freshly built demo company, through the same
    service functions the CLI, API and scheduler use: the daily run replayed over the past year
    (health history, stage paths, signals), the churn model trained on that history, and today's
    run with its predictions. `progress(step, done, total)` hears of each date computed.

    With the simulation's ``result`` and ``playbooks`` ({template key: holdout share}), those
    playbooks are turned on first and the replay is the plays' (clm.demo.plays): every
    REPLAY_DAYS days, with the simulated CSMs doing the work the playbooks give them. ``train``
    False leaves the churn model out (tests of the replay)."""
    from clm.automation.playbooks import services as playbook_services
    from clm.demo import feedback as demo_feedback
    from clm.demo import kpi_targets
    from clm.demo import lead_tracks as demo_lead_tracks
    from clm.demo import membership as demo_membership
    from clm.demo import plays as demo_plays
    from clm.demo import sales as demo_sales
    from clm.demo import success as demo_success
    from clm.demo import winback as demo_winback
    from clm.reports import snapshots as reports_snapshots

    progress = progress or (lambda step, done, total: None)
    out = AfterBuild(steps=["configuration"] if write_configuration() else [])
    fill_search_keys()  # pinyin search keys of the accounts built in bulk
    out.steps.append("search keys")
    demo_sales.sales_process()
    plays = None
    dates = history_dates(as_of)
    if playbooks and result is not None and result.world is not None:
        for key, holdout in playbooks.items():
            playbook_services.enable_template(key, holdout=holdout, via="demo")
        plays = demo_plays.Plays(result.world, result.account_ids)
        dates = demo_plays.replay_dates(as_of)
    days = dates[:-1]
    for i, day in enumerate(days, start=1):
        _run(day, plays, value=False)
        progress("history", i, len(days))
    out.steps.append("lifecycle history")
    if train:
        snapshots = 0

        def snapshot(day):
            nonlocal snapshots
            snapshots += 1
            progress("training", snapshots, None)

        try:
            out.model = training.train(step_days=28, progress=snapshot)
            out.steps.append("churn model")
        except NotEnoughHistory as exc:
            out.no_model = str(exc)
    progress("today", 0, 1)
    _run(as_of, plays)
    progress("today", 1, 1)
    out.steps.append("daily run")
    out.steps.append(prepare_dashboards(as_of))  # the dashboard pages: value history, a backtest
    out.steps.append(f"win-back and referrals {demo_winback.seed(as_of)}")
    out.steps.append(f"customer voice {demo_feedback.build(as_of)}")  # surveys, feedback forms (clm.demo.feedback)
    out.steps.append(f"membership {demo_membership.build(as_of)}")  # tier benefits, coupons (clm.demo.membership)
    out.steps.append(demo_success.build(as_of))
    out.steps.append(f"lead centre ({demo_leads.build(as_of)['scored']} open leads scored)")
    out.steps.append(f"lead talk tracks ({demo_lead_tracks.build()} uses on past leads)")
    out.steps.append(f"{kpi_targets.set_targets(as_of)} KPI targets")
    # today's run stored the dashboards' snapshots before the steps above wrote the value history,
    # the programmes and the win-backs they count: store them again, as the next daily run would
    reports_snapshots.take(as_of)
    out.steps.append("dashboard snapshots")
    if plays:
        out.steps.append(
            f"playbooks {', '.join(playbooks)} ({plays.done} play tasks done, {len(plays.saved)} customers saved)"
        )
    if _vacuum():
        out.steps.append("database vacuumed")
    return out


def _vacuum() -> bool:
    """On PostgreSQL, VACUUM ANALYZE once the history is written: the replay rewrote every account
    at each of its dates (30 dead rows per live one on the 10,000-account demo), and the demo is
    served at once, before any autovacuum (where the server runs one) would catch up; the planner
    then read the bloated tables by sequential scans (the filtered overview 546 ms, 290 ms after).
    Not inside a transaction (tests), where VACUUM cannot run."""
    if connection.vendor != "postgresql" or not connection.get_autocommit():
        return False
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return True


def _run(day: dt.date, plays, **options) -> None:
    if plays:
        plays.before(day)
    lifecycle.run(day, **options)
    if plays:
        plays.after(day)
