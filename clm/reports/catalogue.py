"""The KPI catalogue as data: each KPI's key, name, definition and formula (in the catalogue's two
languages, clm/locale), the lifecycle stage it belongs to, the team that owns it, its unit,
whether up is good, and the one function that computes it (clm.reports.kpis).

The set is seed 002's (FAQ 4: the KPIs of each stage), with seed 000's company lines (LTV:CAC,
CAC share 30% / 50%) and seed 003's reports (win rate, repurchase interval)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from .kpis import acquisition, activation, customers, economics, revenue, stages

STAGES = {
    "acquisition": _("Acquisition"),  # 获客
    "activation": _("Activation"),  # 激活
    "growth": _("Growth and maturity"),  # 成长 / 成熟
    "churn": _("Decline and churn"),  # 衰退 / 流失
    "company": _("Company"),
}
TEAMS = {
    "marketing": _("Marketing"),  # 市场
    "sales": _("Sales"),  # 销售
    "operations": _("Operations"),  # 运营
    "customer_success": _("Customer success"),  # 客户成功
    "management": _("Management"),
}
UNITS = {
    "count": _("count"),
    "percent": _("percent"),  # a share, 0–1, shown as %
    "money": _("yuan"),
    "days": _("days"),
    "months": _("months"),
    "score": _("score (−100 to 100)"),
    "multiple": _("times"),
}


@dataclass(frozen=True)
class KPI:
    key: str
    name: Promise
    definition: Promise
    formula: Promise
    stage: str
    team: str
    unit: str
    up_is_good: bool
    compute: Callable


def _kpi(key, name, definition, formula, stage, team, unit, up_is_good, compute) -> KPI:
    return KPI(key, name, definition, formula, stage, team, unit, up_is_good, compute)


CATALOGUE: tuple[KPI, ...] = (
    # 获客 acquisition
    _kpi("new_leads", _("New leads"), _("Leads that came in during the period (MAL)."),
         _("count of leads with a MAL date in the period"), "acquisition", "marketing", "count", True,
         acquisition.new_leads),
    _kpi("cac", _("Customer acquisition cost (CAC)"),
         _("Marketing and sales spend per new customer, all channels together; per channel in the breakdown."),
         _("CAC = spend in the period ÷ customers won in the period"), "acquisition", "marketing", "money", False,
         economics.cac),
    _kpi("icp_match_share", _("ICP match share of new leads"),
         _("Share of the period's new leads that fit the ideal customer profile."),
         _("leads matching the ICP ÷ new leads"), "acquisition", "marketing", "percent", True,
         acquisition.icp_match),
    _kpi("lead_conversion", _("Lead-to-customer conversion"),
         _("Share of the leads that came in during the period that have become customers; MQL and SQL counts in the breakdown."),
         _("leads won ÷ leads (MAL → MQL → SQL → won)"), "acquisition", "marketing", "percent", True,
         acquisition.lead_conversion),
    _kpi("win_rate", _("Opportunity win rate"), _("Share of the opportunities closed in the period that were won."),
         _("won ÷ (won + lost)"), "acquisition", "sales", "percent", True, acquisition.win_rate),
    _kpi("sales_cycle_days", _("Sales cycle length"),
         _("Mean days from a lead's arrival to its conversion, for the leads converted in the period."),
         _("mean of (converted − MAL date) in days"), "acquisition", "sales", "days", False,
         acquisition.sales_cycle),
    _kpi("email_open_rate", _("Email open rate"), _("Share of the emails sent in the period that were opened."),
         _("opened ÷ sent"), "acquisition", "marketing", "percent", True, acquisition.email_open_rate),
    _kpi("email_click_rate", _("Email click rate"), _("Share of the emails sent in the period with a click."),
         _("clicked ÷ sent"), "acquisition", "marketing", "percent", True, acquisition.email_click_rate),
    # 激活 activation
    _kpi("active_rate_7d", _("New customers with any use in 7 days"),
         _("Share of the customers who started in the period with an active user in their first 7 days."),
         _("new customers active in days 1–7 ÷ new customers 7 days in"), "activation", "operations", "percent",
         True, customers.active_rate_7d),
    _kpi("active_rate_30d", _("New customers with any use in 30 days"),
         _("Share of the customers who started in the period with an active user in their first 30 days."),
         _("new customers active in days 1–30 ÷ new customers 30 days in"), "activation", "operations",
         "percent", True, customers.active_rate_30d),
    _kpi("activation_rate_7d", _("7-day activation rate (first value)"),
         _("Share of the onboardings started in the period whose first-value checklist was complete within 7 days of the contract start; by signup month in the breakdown."),
         _("onboardings activated by day 7 ÷ onboardings 7 days in"), "activation", "customer_success", "percent",
         True, activation.activation_rate_7d),
    _kpi("activation_rate_30d", _("30-day activation rate (first value)"),
         _("Share of the onboardings started in the period whose first-value checklist was complete within 30 days of the contract start; by signup month in the breakdown."),
         _("onboardings activated by day 30 ÷ onboardings 30 days in"), "activation", "customer_success", "percent",
         True, activation.activation_rate_30d),
    _kpi("median_time_to_first_value_days", _("Median time to first value"),
         _("Median days from the contract start to the first-value milestone of the onboardings started in the period."),
         _("median of (first-value day − contract start) in days"), "activation", "customer_success", "days",
         False, activation.median_time_to_first_value),
    # 成长 / 成熟 growth and maturity
    _kpi("logo_retention", _("Customer retention rate"),
         _("Share of the customers paying at the start of the period who still pay at its end."),
         _("customers kept ÷ customers at the start"), "growth", "customer_success", "percent", True,
         revenue.logo_retention),
    _kpi("repurchase_rate", _("Repurchase rate"),
         _("Share of the accounts that ordered in the period that had ordered before."),
         _("returning buyers ÷ buyers"), "growth", "sales", "percent", True, customers.repurchase_rate),
    _kpi("repurchase_interval_days", _("Repurchase interval"),
         _("Mean days between an order placed in the period and the same account's previous order."),
         _("mean of (order date − previous order date)"), "growth", "sales", "days", False,
         customers.repurchase_interval),
    _kpi("healthy_share", _("Healthy share (health distribution)"),
         _("Share of the scored accounts in the green band on the period's last scoring day; bands in the breakdown."),
         _("green ÷ scored accounts"), "growth", "customer_success", "percent", True, stages.healthy_share),
    _kpi("nps", _("Net Promoter Score (NPS)"), _("Promoters (9–10) minus detractors (0–6), as a share of the answers in the period; a month reads the answers of the 90 days to its end, since relationship surveys go out quarterly."),
         _("NPS = % promoters − % detractors"), "growth", "customer_success", "score", True, customers.nps),
    _kpi("new_arr", _("New ARR"),
         _("Annual recurring revenue of the customers new in the period; its target is the one the sales forecast measures its gap against."),
         _("12 × sum of new MRR movements"), "acquisition", "sales", "money", True, revenue.new_arr),
    _kpi("expansion_mrr", _("Cross-sell and up-sell revenue"),
         _("MRR added by existing customers in the period (expansion); the part converted up-sell recommendations brought in the breakdown."),
         _("sum of expansion MRR movements"), "growth", "sales", "money", True, revenue.expansion_mrr),
    _kpi("high_value_share", _("High-value customer share"),
         _("Share of the accounts with a value class that are important-value customers (RFM)."),
         _("important-value accounts ÷ accounts with a value class"), "growth", "customer_success", "percent",
         True, customers.high_value_share),
    _kpi("referral_rate", _("Referral rate"),
         _("Share of the customers who started in the period that another customer or contact referred."),
         _("referred new customers ÷ new customers"), "growth", "marketing", "percent", True,
         customers.referral_rate),
    # 衰退 / 流失 decline and churn
    _kpi("logo_churn", _("Customer churn rate"),
         _("Share of the customers paying at the start of the period who no longer pay at its end."),
         _("customers lost ÷ customers at the start"), "churn", "customer_success", "percent", False,
         revenue.logo_churn),
    _kpi("grr", _("Gross revenue retention (GRR)"),
         _("MRR kept from the customers at the start of the period, without their expansion."),
         _("GRR = (starting − contraction − churn) ÷ starting MRR"), "churn", "customer_success", "percent",
         True, revenue.grr),
    _kpi("nrr", _("Net revenue retention (NRR)"),
         _("MRR at the end of the period of the customers at its start, expansion included."),
         _("NRR = (starting + expansion − contraction − churn) ÷ starting MRR"), "churn", "customer_success",
         "percent", True, revenue.nrr),
    _kpi("churned_mrr", _("Revenue churned"), _("MRR lost by customers who left in the period, by reason in the breakdown."),
         _("sum of churn MRR movements"), "churn", "customer_success", "money", False, revenue.churned_mrr),
    _kpi("winback_success", _("Win-back success rate"),
         _("Share of the win-back cases evaluated in the period that kept or renewed the customer; by root cause and by offer in the breakdown."),
         _("retained or renewed ÷ win-back cases evaluated"), "churn", "customer_success", "percent", True,
         customers.winback_success),
    _kpi("winback_revenue", _("Revenue won back"),
         _("ARR of the customers that win-back cases evaluated in the period kept or renewed; by root cause and by offer in the breakdown."),
         _("sum of the ARR won back at evaluation"), "churn", "customer_success", "money", True,
         customers.winback_revenue),
    _kpi("reactivation_rate", _("Dormant reactivation rate"),
         _("Share of the customers dormant or churned at the start of the period that came back in it."),
         _("reactivated ÷ dormant or churned at the start"), "churn", "operations", "percent", True,
         stages.reactivation_rate),
    # company
    _kpi("customers", _("Customers"),
         _("Customers in an active stage at the end of the period; every stage in the breakdown."),
         _("count of accounts in onboarding, growth, mature, at risk or reactivated"), "company", "management",
         "count", True, stages.customers),
    _kpi("arr", _("ARR"), _("Annual recurring revenue at the end of the period; by stage in the breakdown."),
         _("ARR = 12 × MRR at the end of the period"), "company", "management", "money", True, revenue.arr),
    _kpi("ltv_to_cac", _("LTV:CAC"),
         _("Mean CLV of the period's new customers over their CAC; CAC above 30% of LTV is a warning, above 50% an alarm."),
         _("LTV ÷ CAC"), "company", "management", "multiple", True, economics.ltv_to_cac),
    _kpi("cac_payback_months", _("CAC payback"), _("Months of a new customer's gross margin that repay its CAC."),
         _("CAC ÷ monthly gross margin"), "company", "management", "months", False, economics.payback_months),
    _kpi("customer_equity", _("Customer equity"), _("The sum of the customers' CLV (earned and to come)."),
         _("Σ CLV"), "company", "management", "money", True, economics.customer_equity),
)

BY_KEY = {kpi.key: kpi for kpi in CATALOGUE}
