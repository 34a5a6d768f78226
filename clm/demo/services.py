"""What `clm demo` runs once the demo company is built."""

import datetime as dt


def after_build(as_of: dt.date) -> list[str]:
    """Run the lifecycle computations over the freshly built demo company, as of its last day,
    and return the names of the steps that ran.

    None exist yet: this is where the lifecycle run (health scores, stages, early warnings, CLV)
    is to be called, through the same service functions the CLI, API and scheduler use."""
    from clm.customers.services import fill_search_keys; fill_search_keys()  # noqa: E702, I001 (pinyin search keys for bulk-built accounts)
    return []
