"""The manager's numbers: the KPI catalogue, each KPI computed by one function over a period and
a segment, targets per KPI and period. Pages, API and exports all read them from here."""
