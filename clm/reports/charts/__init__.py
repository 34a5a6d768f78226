"""The figures of the dashboard pages beside the overview, one module per page (lifecycle flows,
revenue, cohorts, value and acquisition, early-warning quality, teams). Importing the package
registers them in clm.reports.figures; every formula is the analytics core's."""

from . import cohorts, flows, quality, revenue, team, value  # noqa: F401  (they register their figures)
