"""What `clm demo` runs once the demo company is built."""

import datetime as dt

from clm.analytics.churn import NotEnoughHistory
from clm.customers.services import fill_search_keys
from clm.lifecycle import services as lifecycle
from clm.lifecycle import training

HISTORY_DAYS = 364  # a year of health history for the trend on the account page
RECENT_DAYS = 28  # the last weeks run week by week, as the scheduler would have


def history_dates(as_of: dt.date) -> list[dt.date]:
    """Every four weeks over the past year, then every week over the last four, ending on as_of."""
    start = as_of - dt.timedelta(days=HISTORY_DAYS)
    dates = [start + dt.timedelta(days=d) for d in range(0, HISTORY_DAYS - RECENT_DAYS, 28)]
    dates += [as_of - dt.timedelta(days=d) for d in range(RECENT_DAYS, -1, -7)]
    return dates


def after_build(as_of: dt.date, progress=None) -> list[str]:
    """Run the lifecycle computations over the freshly built demo company, through the same
    service functions the CLI, API and scheduler use, and return the names of the steps that ran:
    the daily run replayed over the past year (health history, stage paths, signals), the churn
    model trained on that history, and today's run with its predictions."""
    fill_search_keys()  # pinyin search keys of the accounts built in bulk
    steps = ["search keys"]
    for day in history_dates(as_of)[:-1]:
        lifecycle.run(day)
        if progress:
            progress(day)
    steps.append("lifecycle history")
    try:
        training.train(step_days=28)
        steps.append("churn model")
    except NotEnoughHistory:
        pass
    lifecycle.run(as_of)
    steps.append("daily run")
    return steps
