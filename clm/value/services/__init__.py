"""The value operations, one module per job: ``loading`` (what it reads as of a date; the ledger
and order loaders are clm.commerce.frames'), ``computing`` (CLV, tiers, offers), ``writing`` (back in bulk), ``daily`` (``recompute``, the three together),
``recommendations``, ``loyalty`` (the points ledger) and ``reports`` (MRR, cohorts, CAC).

The names callers use are re-exported here: ``from clm.value import services``.
"""

from .computing import compute, tier_names, tier_rules
from .daily import recompute
from .loading import Known
from .loyalty import add_entry, balance, check_entry, redeem_points
from .recommendations import set_recommendation_status
from .reports import cac_report, cohort_report, contract_cohort_values, mrr_report
from .upsell import upsell_kpis

__all__ = [
    "Known",
    "add_entry",
    "balance",
    "cac_report",
    "check_entry",
    "cohort_report",
    "compute",
    "contract_cohort_values",
    "mrr_report",
    "recompute",
    "redeem_points",
    "set_recommendation_status",
    "tier_names",
    "tier_rules",
    "upsell_kpis",
]
