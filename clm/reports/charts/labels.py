"""The words of the dashboard pages' figures: each figure's title, its columns, and the codes its
cells hold (stages, MRR movements, roles, signals), in the user's language — for the pages, the
table views and the CSV/XLSX exports alike."""

from __future__ import annotations

from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from clm.customers.models import LifecycleStage
from clm.lifecycle import words
from clm.value import services as value_services

TITLES = {
    "flows.sankey": _("Moves between stages"),
    "flows.stage_time": _("Time spent in each stage"),
    "flows.returns": _("Lapsed customers who come back (回流)"),
    "revenue.waterfall": _("MRR movements by month"),
    "revenue.retention": _("NRR and GRR by month"),
    "revenue.cohort_retention": _("NRR and GRR by signup cohort"),
    "revenue.arr_segments": _("ARR by segment"),
    "cohorts.logo": _("Logo retention by signup month"),
    "cohorts.revenue": _("Revenue retention by signup month"),
    "cohorts.repurchase": _("Repurchase by month of first order"),
    "value.clv": _("CLV distribution"),
    "value.tiers": _("Value tiers by month"),
    "value.economics": _("CAC and LTV:CAC by channel"),
    "quality.churners": _("This period's churners: warned in time?"),
    "quality.recall": _("Recall and precision of the early warning"),
    "quality.lead_time": _("Days from the first warning to churn"),
    "quality.calibration": _("Churn model calibration"),
    "team.people": _("Sales owners and CSMs"),
}

COLUMNS = {
    "from_stage": _("From stage"), "to_stage": _("To stage"), "accounts": _("Accounts"), "stage": _("Stage"),
    "median_days": _("Median days"), "mean_days": _("Mean days"), "stays": _("Stays ended"),
    "ongoing": _("Still in the stage"), "month": _("Month"), "lapsed": _("Dormant or churned at the start"),
    "returned": _("Came back"), "share": _("Share"), "opening_mrr": _("Opening MRR"), "new": _("New"),
    "expansion": _("Expansion"), "reactivation": _("Reactivation"), "contraction": _("Contraction"),
    "churn": _("Churn"), "net_new_mrr": _("Net new MRR"), "closing_mrr": _("Closing MRR"),
    "starting_mrr": _("Starting MRR"), "ending_mrr": _("Ending MRR"), "nrr": _("NRR"), "grr": _("GRR"),
    "cohort": _("Cohort"), "accounts_at_start": _("Accounts at the start"), "dimension": _("Dimension"),
    "segment": _("Segment"), "arr": _("ARR"), "size": _("Cohort size"), "low": _("From"), "high": _("Below"),
    "clv": _("CLV"), "tier": _("Value tier"), "channel": _("Channel"), "spend": _("Spend"),
    "new_customers": _("New customers"), "cac": _("CAC"), "ltv": _("LTV"), "ltv_to_cac": _("LTV:CAC"),
    "cac_share_of_ltv": _("CAC share of LTV"), "health": _("CAC health"), "payback_months": _("Payback months"),
    "signal": _("Signal"), "churners": _("Churners"), "flagged_in_time": _("Flagged in time"),
    "recall_in_time": _("Recall in time"), "flagged": _("Accounts flagged"),
    "followed_by_churn": _("Followed by churn"), "precision": _("Precision"), "quantile": _("Quantile"),
    "days": _("Days"), "bin": _("Decile"), "count": _("Account-dates"), "mean_predicted": _("Mean predicted risk"),
    "observed_rate": _("Observed churn rate"), "role": _("Role"), "person_id": _("User id"), "person": _("Person"),
    "red_share": _("Red share"), "renewed": _("Contracts renewed"), "lost": _("Contracts lost"),
    "renewal_rate": _("Renewal rate"), "overdue_tasks": _("Overdue tasks"), "outcome": _("Warning"),
}

VALUES = {
    "movement": {"new": _("New"), "expansion": _("Expansion"), "reactivation": _("Reactivation"),
                 "contraction": _("Contraction"), "churn": _("Churn")},
    "role": {"sales_owner": _("Sales owner"), "csm": _("CSM")},
    "dimension": {"industry": _("Industry"), "region": _("Region"), "tier": _("Value tier")},
    "health": {"healthy": _("healthy (below 30%)"), "warning": _("warning (30–50%)"), "alarm": _("alarm (above 50%)")},
    "channel": {"all": _("All channels"), "unattributed": _("Unattributed")},
    "signal": {"any": _("Any signal")},
    "outcome": {"in_time": _("Warned in time"), "late": _("Warned too late"), "not_warned": _("Not warned")},
}
NOT_SET = pgettext_lazy("segment", "not set")


def column(key: str) -> str:
    if key.startswith("m") and key[1:].isdigit():
        return gettext("Month %(k)s") % {"k": key[1:]}
    return str(COLUMNS.get(key, key))


def value(key: str, cell, signals: dict | None = None, tiers: dict | None = None) -> object:
    """A cell as people read it: a stage, a movement, a role... by name; numbers as they are."""
    if not isinstance(cell, str):
        return cell
    if key in ("stage", "from_stage", "to_stage"):
        return str(dict(LifecycleStage.choices).get(cell, cell)) if cell else gettext("new account")
    if key == "signal" and signals and cell in signals:
        return words.signal_title(cell, signals[cell])  # a default kind by its name in the catalogue
    if key == "quantile":
        n = cell[1:]
        return gettext("Median") if n == "50" else gettext("%(n)sth percentile") % {"n": n}
    if key == "tier" and cell:
        return (tiers if tiers is not None else value_services.tier_names()).get(cell, cell)
    if key in ("segment",) and cell == "":
        return str(NOT_SET)
    labels = VALUES.get(key)
    return str(labels[cell]) if labels and cell in labels else cell


def row(key: str, columns: list[str], cells: list, signals: dict | None = None, tiers: dict | None = None) -> list:
    """A figure's row as people read it (see ``value``; ``tiers``: clm.value's tier_names(), read once per
    table); a tier segment of ARR by its tier's name."""
    named = [value(c, v, signals, tiers) for c, v in zip(columns, cells, strict=False)]
    if key == "revenue.arr_segments" and cells[0] == "tier" and cells[1]:
        named[1] = (tiers if tiers is not None else value_services.tier_names()).get(cells[1], cells[1])
    return named


def part(key: str, code: str) -> str:
    """A part of a figure (what a drill-down narrowed the accounts to) as people read it: "2026-11 ·
    Churn", "At risk → Churned", "Industry · 制造"."""
    if key == "flows.sankey" and ">" in code:
        before, after = code.split(">", 1)
        return f"{value('from_stage', '' if before == 'new' else before)} → {value('to_stage', after)}"
    if key == "flows.stage_time":
        return str(value("stage", code))
    if ":" not in code:
        return code
    head, tail = code.split(":", 1)
    if key == "revenue.waterfall":
        return f"{head} · {value('movement', tail)}"
    if key.startswith("cohorts."):  # a heat map's cell: the cohort and the months since its start
        return f"{head} · {column(tail)}"
    if key == "revenue.arr_segments":
        return f"{value('dimension', head)} · {value('segment', tail)}"
    if key == "team.people":
        return str(value("role", head))
    return f"{head} · {tail}"

