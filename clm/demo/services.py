"""What `clm demo` runs once the demo company is built."""

import datetime as dt

from clm.analytics.churn import NotEnoughHistory
from clm.customers.services import fill_search_keys
from clm.lifecycle import services as lifecycle
from clm.lifecycle import training

HISTORY_MONTHS = 12  # a year of health history for the trend on the account page


def history_dates(as_of: dt.date) -> list[dt.date]:
    """Every four weeks over the past year, then a week before as_of (so that signals which held
    for a week are confirmed today), then as_of."""
    dates = [as_of - dt.timedelta(days=28 * k) for k in range(HISTORY_MONTHS, 0, -1)]
    return [*dates, as_of - dt.timedelta(days=7), as_of]


def after_build(
    as_of: dt.date,
    progress=None,
    *,
    result=None,
    playbooks: dict[str, float] | None = None,
    train: bool = True,
) -> list[str]:
    """Run the lifecycle computations over the freshly built demo company, through the same
    service functions the CLI, API and scheduler use, and return the names of the steps that ran:
    the daily run replayed over the past year (health history, stage paths, signals), the churn
    model trained on that history, and today's run with its predictions.

    With the simulation's ``result`` and ``playbooks`` ({template key: holdout share}), those
    playbooks are turned on first and the replay is the plays' (clm.demo.plays): every
    REPLAY_DAYS days, with the simulated CSMs doing the work the playbooks give them. ``train``
    False leaves the churn model out (tests of the replay)."""
    from clm.automation.playbooks import services as playbook_services
    from clm.demo import plays as demo_plays

    fill_search_keys()  # pinyin search keys of the accounts built in bulk
    steps = ["search keys"]
    plays = None
    dates = history_dates(as_of)
    if playbooks and result is not None and result.world is not None:
        for key, holdout in playbooks.items():
            playbook_services.enable_template(key, holdout=holdout, via="demo")
        plays = demo_plays.Plays(result.world, result.account_ids)
        dates = demo_plays.replay_dates(as_of)
    for day in dates[:-1]:
        _run(day, plays, value=False)
        if progress:
            progress(day)
    steps.append("lifecycle history")
    if train:
        try:
            training.train(step_days=28)
            steps.append("churn model")
        except NotEnoughHistory:
            pass
    _run(as_of, plays)
    steps.append("daily run")
    if plays:
        steps.append(
            f"playbooks {', '.join(playbooks)} ({plays.done} play tasks done, {len(plays.saved)} customers saved)"
        )
    return steps


def _run(day: dt.date, plays, **options) -> None:
    if plays:
        plays.before(day)
    lifecycle.run(day, **options)
    if plays:
        plays.after(day)
