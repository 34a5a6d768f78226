"""The value operations, one module per job: ``loading`` (what it reads as of a date; the ledger
and order loaders are clm.commerce.frames'), ``computing`` (CLV, tiers, offers), ``writing`` (back in bulk), ``daily`` (``recompute``, the three together),
``recommendations``, ``loyalty`` (the points ledger) and ``reports`` (MRR, cohorts, CAC).

The names callers use are re-exported here: ``from clm.value import services``.
"""

from importlib import import_module

# name → the module it lives in; imported on first use (PEP 562), so that the app's start-up (its
# referral listener) loads no numpy, pandas or CLV fitting: `clm check` and `clm --help` need none
_HOMES = {
    "compute": "computing", "tier_names": "computing", "tier_rules": "computing", "recompute": "daily",
    "Known": "loading",
    "add_entry": "loyalty", "balance": "loyalty", "check_entry": "loyalty", "redeem_points": "loyalty",
    "set_recommendation_status": "recommendations", "cac_report": "reports", "cohort_report": "reports",
    "contract_cohort_values": "reports", "mrr_report": "reports", "upsell_kpis": "upsell",
}  # fmt: skip


def __getattr__(name: str):
    if name in _HOMES:
        return getattr(import_module(f".{_HOMES[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
