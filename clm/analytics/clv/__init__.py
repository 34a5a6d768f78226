"""Customer lifetime value: the seeds' formulas, and the models that respect the differences
between customers (BG/NBD with Gamma-Gamma spend for repeat orders, sBG for subscriptions)."""

from .bgnbd import BetaGeoModel, holdout_comparison
from .data import calibration_and_holdout, read_cdnow, rfm_summary, summary_arrays
from .errors import CLVInputError, NotEnoughDataError
from .fitting import FitInfo
from .formulas import (
    CacHealth,
    annual_clv,
    annual_value,
    average_lifetime,
    cac_health,
    cac_payback_months,
    customer_acquisition_cost,
    historical_clv,
    ltv_to_cac_ratio,
    retention_clv_paid_in_advance,
    retention_clv_paid_in_arrears,
    simple_clv,
)
from .gamma_gamma import GammaGammaModel
from .sbg import ShiftedBetaGeometricModel

__all__ = [
    "BetaGeoModel",
    "CLVInputError",
    "CacHealth",
    "FitInfo",
    "GammaGammaModel",
    "NotEnoughDataError",
    "ShiftedBetaGeometricModel",
    "annual_clv",
    "annual_value",
    "average_lifetime",
    "cac_health",
    "cac_payback_months",
    "calibration_and_holdout",
    "customer_acquisition_cost",
    "historical_clv",
    "holdout_comparison",
    "ltv_to_cac_ratio",
    "read_cdnow",
    "retention_clv_paid_in_advance",
    "retention_clv_paid_in_arrears",
    "rfm_summary",
    "simple_clv",
    "summary_arrays",
]
