"""The seeds' customer-value formulas (DESIGN.md, "Value formulas"), exactly as written there.

Every function takes scalars or numpy arrays (broadcast together) and returns a float for
scalar inputs, an array otherwise. An input no business can have raises ``CLVInputError``
naming the argument and the value; no function returns inf or nan.

These formulas give every customer one retention rate; ``sbg`` and ``bgnbd`` are the models that
respect the differences between customers.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np

from .errors import CLVInputError, as_float_array, require

HEALTHY_CAC_SHARE = 0.30
ALARM_CAC_SHARE = 0.50


class CacHealth(StrEnum):
    """How much of a customer's lifetime value acquiring them costs (seed: CAC/LTV < 30%)."""

    HEALTHY = "healthy"  # CAC below 30% of LTV
    WARNING = "warning"  # 30% to 50%
    ALARM = "alarm"  # above 50%, or a customer who never pays back (LTV <= 0)


def historical_clv(total_revenue, total_cost):
    """CLV (historical) = total revenue − total cost over the relationship."""
    revenue = as_float_array("total_revenue", total_revenue)
    cost = as_float_array("total_cost", total_cost)
    return _out(revenue - cost)


def simple_clv(monthly_gross_margin, monthly_cost_to_serve, expected_lifetime_months):
    """CLV (simple) = (monthly gross margin − monthly cost to serve) × expected lifetime in months.

    Seed example: (45 − 20) × 36 = 900.
    """
    margin = as_float_array("monthly_gross_margin", monthly_gross_margin)
    cost = as_float_array("monthly_cost_to_serve", monthly_cost_to_serve)
    months = as_float_array("expected_lifetime_months", expected_lifetime_months)
    require("expected_lifetime_months", months, months >= 0, "a lifetime cannot be negative")
    return _out((margin - cost) * months)


def retention_clv_paid_in_advance(margin, retention_cost, retention_rate, discount_rate):
    """CLV = (M − R)·(1 + d)/(1 + d − r), for customers who pay at the start of each period.

    M is the margin and R the retention cost per customer per period, r the per-period
    retention rate and d the per-period discount rate. It is the sum over periods t = 0, 1, ...
    of (M − R)·r^t/(1 + d)^t. Seed example: (2000 − 500)·1.05/(1.05 − 0.80) = 6300.
    """
    net, r, d = _retention_inputs(margin, retention_cost, retention_rate, discount_rate)
    return _out(net * (1 + d) / (1 + d - r))


def retention_clv_paid_in_arrears(margin, retention_cost, retention_rate, discount_rate):
    """CLV = (M − R)·r/(1 + d − r), for customers who pay after each period (credit, invoicing).

    The paid-in-advance value less the first period's net margin, which arrives one period later.
    """
    net, r, d = _retention_inputs(margin, retention_cost, retention_rate, discount_rate)
    return _out(net * r / (1 + d - r))


def annual_value(annual_purchases, gross_margin_rate):
    """Annual value = annual purchases (money) × gross margin rate."""
    purchases = as_float_array("annual_purchases", annual_purchases)
    require("annual_purchases", purchases, purchases >= 0, "purchases cannot be negative")
    rate = as_float_array("gross_margin_rate", gross_margin_rate)
    require("gross_margin_rate", rate, rate <= 1, "a margin rate is a share of revenue, at most 1")
    return _out(purchases * rate)


def average_lifetime(churn_rate):
    """Average lifetime in years = 1 / annual churn rate."""
    churn = as_float_array("churn_rate", churn_rate)
    require("churn_rate", churn, churn != 0, "a churn rate of 0 means an infinite lifetime")
    require("churn_rate", churn, (churn > 0) & (churn <= 1), "a churn rate is a share between 0 and 1")
    return _out(1 / churn)


def annual_clv(annual_purchases, gross_margin_rate, churn_rate, cac):
    """CLV (annual) = annual value × average lifetime − CAC.

    Annual value = annual purchases × gross margin rate; average lifetime = 1 / churn rate.
    """
    acquisition = as_float_array("cac", cac)
    require("cac", acquisition, acquisition >= 0, "an acquisition cost cannot be negative")
    value = np.asarray(annual_value(annual_purchases, gross_margin_rate))
    return _out(value * np.asarray(average_lifetime(churn_rate)) - acquisition)


def customer_acquisition_cost(spend, new_customers):
    """CAC = marketing and sales spend / new customers (per channel and period)."""
    money = as_float_array("spend", spend)
    require("spend", money, money >= 0, "spend cannot be negative")
    customers = as_float_array("new_customers", new_customers)
    require("new_customers", customers, customers > 0, "CAC is undefined without new customers")
    return _out(money / customers)


def ltv_to_cac_ratio(ltv, cac):
    """LTV:CAC, how many times a customer's lifetime value covers the cost of acquiring them."""
    value = as_float_array("ltv", ltv)
    acquisition = as_float_array("cac", cac)
    require("cac", acquisition, acquisition > 0, "the ratio is undefined for a CAC of 0 or less")
    return _out(value / acquisition)


def cac_health(ltv, cac):
    """Classify CAC as a share of LTV: below 30% healthy, 30–50% warning, above 50% alarm.

    A customer whose LTV is zero or negative never repays their acquisition: alarm.
    Returns a ``CacHealth`` for scalars and an array of its string values for arrays.
    """
    value = as_float_array("ltv", ltv)
    acquisition = as_float_array("cac", cac)
    require("cac", acquisition, acquisition >= 0, "an acquisition cost cannot be negative")
    value, acquisition = np.broadcast_arrays(value, acquisition)
    share = np.divide(acquisition, value, out=np.full(value.shape, np.inf), where=value > 0)
    health = np.where(
        share < HEALTHY_CAC_SHARE,
        CacHealth.HEALTHY.value,
        np.where(share <= ALARM_CAC_SHARE, CacHealth.WARNING.value, CacHealth.ALARM.value),
    )
    return CacHealth(health.item()) if health.ndim == 0 else health


def cac_payback_months(cac, monthly_gross_margin):
    """Months of a customer's gross margin needed to earn back what acquiring them cost."""
    acquisition = as_float_array("cac", cac)
    require("cac", acquisition, acquisition >= 0, "an acquisition cost cannot be negative")
    margin = as_float_array("monthly_gross_margin", monthly_gross_margin)
    require("monthly_gross_margin", margin, margin > 0, "a customer with no margin never pays back")
    return _out(acquisition / margin)


def _retention_inputs(margin, retention_cost, retention_rate, discount_rate):
    m = as_float_array("margin", margin)
    cost = as_float_array("retention_cost", retention_cost)
    r = as_float_array("retention_rate", retention_rate)
    d = as_float_array("discount_rate", discount_rate)
    require("retention_rate", r, (r >= 0) & (r <= 1), "a retention rate is a share between 0 and 1")
    require("discount_rate", d, d >= 0, "a discount rate cannot be negative")
    r, d = np.broadcast_arrays(r, d)
    if (r >= 1 + d).any():
        raise CLVInputError(
            *_first_pair("retention_rate", r, "discount_rate", d, r >= 1 + d),
        )
    return m - cost, r, d


def _first_pair(name_r, r, name_d, d, bad):
    index = tuple(int(i) for i in np.argwhere(bad)[0]) if bad.ndim else ()
    suffix = f"[{', '.join(map(str, index))}]" if index else ""
    value = float(r[index])
    reason = f"must be below 1 + {name_d} = {1 + float(d[index])!r}, or the value is infinite"
    return f"{name_r}{suffix}", value, reason


def _out(result: np.ndarray):
    result = np.asarray(result, dtype=float)
    return float(result) if result.ndim == 0 else result
