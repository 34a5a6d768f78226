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


def after_build(as_of: dt.date, progress=None) -> list[str]:
    """Run the lifecycle computations over the freshly built demo company, through the same
    service functions the CLI, API and scheduler use, and return the names of the steps that ran:
    the daily run replayed over the past year (health history, stage paths, signals), the churn
    model trained on that history, and today's run with its predictions."""
    fill_search_keys()  # pinyin search keys of the accounts built in bulk
    steps = ["search keys"]
    for day in history_dates(as_of)[:-1]:
        lifecycle.run(day, value=False)
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
