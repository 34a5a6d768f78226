"""What the lifecycle engine stores, in plain words in the user's language: health components
and the metrics behind them, churn factors that add up, stage rules, signals, value tiers and
segments, and how a CLV was computed. Raw keys and expressions stay for admins (see the account
page's "details"); every sentence here comes from the one catalogue (clm/locale).
"""

from __future__ import annotations

import math

from django.utils.text import capfirst
from django.utils.translation import get_language, gettext_lazy, pgettext
from django.utils.translation import gettext as _

from clm.analytics.clv.formulas import retention_clv_paid_in_advance
from clm.analytics.rfm import SEGMENT_LABELS
from clm.lifecycle.words import signal_explanation, signal_title, warning_summary
from clm.value import services as value_services
from clm.web.labels import BAND_LABELS
from clm.web.playbooks import FIELDS

COMPONENTS = {
    "usage_frequency": gettext_lazy("Usage frequency"),
    "core_feature_adoption": gettext_lazy("Core-feature adoption"),
    "breadth": gettext_lazy("Breadth (active users / seats)"),
    "support": gettext_lazy("Support"),
    "sentiment": gettext_lazy("Sentiment (NPS / CSAT)"),
    "relationship": gettext_lazy("Relationship"),
    "commercial": gettext_lazy("Commercial"),
}

# Metrics the condition editor does not name (clm.web.playbooks.FIELDS names the others).
MORE_FIELDS = {
    "active_days_baseline_30d": gettext_lazy("active days per 30 days in the baseline"),
    "logins_baseline_30d": gettext_lazy("logins per 30 days in the baseline"),
    "core_minutes_30d": gettext_lazy("minutes in core features in the last 30 days"),
    "core_minutes_baseline_30d": gettext_lazy("core-feature minutes per 30 days in the baseline"),
    "core_active_days_120d": gettext_lazy("days a core feature was used in the last 120 days"),
    "active_users_30d": gettext_lazy("active users in the last 30 days"),
    "seats": gettext_lazy("licensed seats"),
    "tickets_baseline_30d": gettext_lazy("tickets per 30 days in the baseline"),
    "tickets_30d_vs_baseline": gettext_lazy("tickets in the last 30 days"),
    "high_priority_tickets_30d": gettext_lazy("high-priority tickets in the last 30 days"),
    "sla_breaches_90d": gettext_lazy("tickets answered later than the SLA in the last 90 days"),
    "nps_365d": gettext_lazy("NPS over the last 12 months"),
    "nps_trend": gettext_lazy("change of the mean NPS answer, last 6 months on the 6 before (points)"),
    "csat_365d": gettext_lazy("mean CSAT over the last 12 months"),
    "csat_trend": gettext_lazy("change of the mean CSAT answer, last 6 months on the 6 before (points)"),
    "days_since_customer_reply": gettext_lazy("days since the customer last reached us"),
    "key_people_missing": gettext_lazy("key people who left and were not replaced"),
    "subscription_history": gettext_lazy("has had a contract"),
    "subscriptions_active": gettext_lazy("live contracts"),
    "revenue_change_180d": gettext_lazy("change of MRR on 180 days before"),
    "expansions_180d": gettext_lazy("expansions in the last 180 days"),
    "contractions_180d": gettext_lazy("contractions in the last 180 days"),
    "renewal_intent": gettext_lazy("renewal intent"),
    "orders_365d": gettext_lazy("orders in the last 12 months"),
    "revenue_365d": gettext_lazy("order revenue in the last 12 months"),
    "development_stage": gettext_lazy("company development stage"),
    "acquisition_channel": gettext_lazy("acquisition channel"),
    "signals_confirmed": gettext_lazy("confirmed early-warning signals"),
    "renewal_within_180d": gettext_lazy("a contract term ends within 180 days"),
    "renewal_in_90_180d": gettext_lazy("a contract term ends in 90 to 180 days"),
    "logins_fall_before_renewal": gettext_lazy("fall of logins from their busiest 30 days, with a renewal within 180 days"),
}

# Relative changes against a baseline read as "… down 60% on the account's own baseline".
CHANGES = {
    "active_days_30d_vs_baseline": gettext_lazy("Active days in the last 30 days"),
    "logins_30d_vs_baseline": gettext_lazy("Logins in the last 30 days"),
    "core_minutes_30d_vs_baseline": gettext_lazy("Time in core features in the last 30 days"),
    "tickets_30d_vs_baseline": gettext_lazy("Tickets in the last 30 days"),
}
# Changes against the busiest 30 days of the five months before (a decline that set in months ago).
PEAK_CHANGES = {"logins_30d_vs_peak": gettext_lazy("Logins in the last 30 days")}
SHARES = ("core_feature_share", "seat_utilisation", "logins_fall_before_renewal")
# Yes-or-no metrics (1 or 0) and their sentences (clm.lifecycle.terms)
FLAGS = {
    "renewal_within_180d": (
        gettext_lazy("A contract term ends within 180 days"),
        gettext_lazy("No contract term ends within 180 days"),
    ),
    "renewal_in_90_180d": (
        gettext_lazy("A contract term ends in 90 to 180 days"),
        gettext_lazy("No contract term ends in 90 to 180 days"),
    ),
}
SIGNED = ("nps_trend", "csat_trend")
MONEY = ("mrr", "revenue_365d")

RENEWAL_INTENT = {
    -1.0: gettext_lazy("the customer said they will not renew"),
    0.0: gettext_lazy("undecided"),
    0.5: gettext_lazy("negotiating the renewal"),
    1.0: gettext_lazy("renewing"),
}

# The default stage rules (clm.analytics.stages) as a CSM would say them.
STAGE_RULES = {
    "no_contract_yet": gettext_lazy("No contract or order yet"),
    "contract_ended": gettext_lazy("Every contract has ended without renewal"),
    "no_purchase_or_usage": gettext_lazy("No purchase and no usage for a long time"),
    "came_back": gettext_lazy("Came back after churning or sleeping"),
    "recently_back": gettext_lazy("Came back recently"),
    "not_yet_activated": gettext_lazy("New customer, core features not yet in regular use"),
    "health_red_or_signal": gettext_lazy("Health is red, or an early-warning signal is confirmed"),
    "not_yet_recovered": gettext_lazy(
        "Still at risk: an account leaves this stage after 60 days and once its health is back to 70"
    ),
    "settling_in_growth": gettext_lazy("Recently moved here: a stage holds for at least 30 days"),
    "settling_in_maturity": gettext_lazy("Recently moved here: a stage holds for at least 30 days"),
    "trending_up": gettext_lazy("Usage or revenue trending up, or an expansion in the last 180 days"),
    "established": gettext_lazy("Customer for 12 months or more, steady"),
    "first_year": gettext_lazy("Customer for less than 12 months"),
    # the rule of earlier versions, still named by stored transitions
    "active_customer": gettext_lazy("Active customer"),
}

# Metrics only signals read (the churn risk relative to its flag threshold, the warning's inputs).
SIGNAL_FIELDS = {
    "churn_risk": gettext_lazy("churn risk"),
    "churn_risk_over_threshold": gettext_lazy("churn risk as a multiple of the flag threshold"),
    "signals_firing": gettext_lazy("early-warning signals firing"),
    "warning_level": gettext_lazy("warning level"),
}


def field(key: str) -> str:
    """A metric's name in words."""
    if key in MORE_FIELDS:
        return str(MORE_FIELDS[key])
    if key in SIGNAL_FIELDS:
        return str(SIGNAL_FIELDS[key])
    if key in FIELDS:
        return str(FIELDS[key])
    return _("a metric")


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _figure(value) -> str:
    value = float(value)
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


def value_words(key: str, value) -> str:
    """A metric's value as read on a page: 60%, ¥12,000, 7, a band's name…"""
    if _missing(value) and key in ("churn_risk", "churn_risk_over_threshold"):
        # the engine scores risk only once a churn model is trained: a signal opened before that
        # (the demo's replayed history, a new workspace's first weeks) carries none
        return _("not scored (no churn model had been trained yet)")
    if _missing(value):
        return _("no data")
    if key == "health_band":
        return str(BAND_LABELS.get(value, value))
    if isinstance(value, str):
        return value
    if key in CHANGES or key in PEAK_CHANGES or key == "revenue_change_180d":
        return f"{float(value) * 100:+.0f}%"
    if key in SHARES:
        return f"{float(value) * 100:.0f}%"
    if key in FLAGS:
        return _("yes") if float(value) else _("no")
    if key in SIGNED:
        return f"{float(value):+.1f}"
    if key in MONEY:
        return f"¥{float(value):,.0f}"
    if key == "churn_risk":
        return f"{float(value) * 100:.1f}%"
    if key == "churn_risk_over_threshold":
        return f"{float(value):.2f}×"
    if key == "renewal_intent" and float(value) in RENEWAL_INTENT:
        return str(RENEWAL_INTENT[float(value)])
    return _figure(value)


def metric_sentence(key: str, value) -> str:
    """One metric's value as a sentence: "近30天活跃天数比自身基线下降 60%"."""
    if key in CHANGES and not _missing(value):
        what, size = str(CHANGES[key]), f"{abs(float(value)) * 100:.0f}%"
        if round(float(value) * 100) == 0:
            return _("%(what)s level with the account's own baseline") % {"what": what}
        if float(value) < 0:
            return _("%(what)s down %(size)s on the account's own baseline") % {"what": what, "size": size}
        return _("%(what)s up %(size)s on the account's own baseline") % {"what": what, "size": size}
    if key in PEAK_CHANGES and not _missing(value):
        what, size = str(PEAK_CHANGES[key]), f"{abs(float(value)) * 100:.0f}%"
        if round(float(value) * 100) == 0:
            return _("%(what)s level with its busiest 30 days of the five months before") % {"what": what}
        if float(value) < 0:
            return _("%(what)s down %(size)s on its busiest 30 days of the five months before") % {
                "what": what, "size": size,
            }  # fmt: skip
        return _("%(what)s up %(size)s on its busiest 30 days of the five months before") % {"what": what, "size": size}
    if key in FLAGS and not _missing(value):
        return str(FLAGS[key][0 if float(value) else 1])
    if key == "logins_fall_before_renewal" and not _missing(value):
        if round(float(value) * 100) == 0:
            return _("No fall of logins ahead of a renewal within 180 days")
        return _(
            "Logins down %(size)s on their busiest 30 days, with the contract ending or cancellable within 180 days"
        ) % {"size": f"{float(value) * 100:.0f}%"}
    return _("%(what)s: %(value)s") % {"what": capfirst(field(key)), "value": value_words(key, value)}


def components(stored: list[dict]) -> list[dict]:
    """A score snapshot's components with a label and their metrics as sentences."""
    out = []
    for c in stored:
        label = COMPONENTS.get(c.get("key"))
        out.append({
            **c,
            "name": str(label) if label else c.get("label") or c.get("key"),
            "sentences": [metric_sentence(m["metric"], m.get("value")) for m in c.get("metrics", [])],
        })  # fmt: skip
    return out


def points(effect: float) -> str:
    """A change of probability in percentage points, signed: +5.1."""
    return f"{effect * 100:+.1f}"


def churn_factors(factors: list[dict], probability: float) -> dict | None:
    """The stored factors of a prediction as sentences, with the baseline they add up from (in
    percentage points, from the typical account's risk to this one's). None for predictions
    stored before factors added up (no baseline)."""
    if not factors or "baseline" not in factors[0]:
        return None
    rows = []
    for f in factors:
        if f["feature"] == "_other":
            text = _("All other factors together")
        else:
            text = _("%(what)s (typical account: %(typical)s)") % {
                "what": metric_sentence(f["feature"], f.get("value")),
                "typical": value_words(f["feature"], f.get("typical")),
            }
        rows.append({"text": text, "points": points(f["effect"]), "raises": f["effect"] > 0, "feature": f["feature"]})
    baseline = factors[0]["baseline"]
    return {"baseline": f"{baseline * 100:.1f}%", "risk": f"{probability * 100:.1f}%", "factors": rows}


def stage_reason(rule: str) -> str:
    label = STAGE_RULES.get(rule)
    return str(label) if label else _("Rule “%(name)s”") % {"name": rule}


def signal_sentences(values: dict) -> list[str]:
    return [metric_sentence(k, v) for k, v in (values or {}).items()]


def signal_words(signal) -> dict:
    """A stored signal (clm.lifecycle.models.Signal) in words: title, explanation, and what it saw."""
    return {
        "title": signal_title(signal.kind, signal.title),
        "explanation": signal_explanation(signal.kind, signal.title),
        "sentences": signal_sentences(signal.last_values or signal.values),
    }


def _titles(kinds) -> str:
    return pgettext("list separator", ", ").join(signal_title(k) for k in kinds)


def warning_reasons(level: int, evidence: dict) -> dict:
    """Why an account has its warning level (clm.lifecycle.models.AccountWarning), in sentences."""
    evidence = evidence or {}
    confirmed = list(evidence.get("confirmed") or [])
    others = [k for k in evidence.get("firing") or [] if k not in confirmed]
    lines = []
    if confirmed:
        lines.append(_("Confirmed: %(signals)s") % {"signals": _titles(confirmed)})
    if others:
        lines.append(_("Also firing: %(signals)s") % {"signals": _titles(others)})
    risk, threshold = evidence.get("churn_risk"), evidence.get("threshold")
    if risk is not None and threshold:
        lines.append(
            _("Churn risk %(risk)s against a flag threshold of %(threshold)s (%(ratio)s× the threshold)")
            % {"risk": f"{risk * 100:.1f}%", "threshold": f"{threshold * 100:.1f}%", "ratio": f"{risk / threshold:.1f}"}
        )
    return {"summary": warning_summary(level), "lines": lines}


def _chinese() -> bool:
    return (get_language() or "").lower().startswith("zh")


def tier_name(key: str, stored_label: str, names: dict[str, str] | None = None) -> str:
    """A value tier's name in the user's language (``names``: clm.value's tier_names(), read once
    per page); the label stored with the assignment for a tier no longer configured."""
    return (names if names is not None else value_services.tier_names()).get(key, stored_label)


def segment_name(segment: str) -> str:
    names = SEGMENT_LABELS.get(segment)
    if not names:
        return segment
    return names[1] if _chinese() else names[0]


CLV_MODELS = {
    "sBG": gettext_lazy("shifted-beta-geometric retention model (contracts)"),
    "BG/NBD + Gamma-Gamma": gettext_lazy("BG/NBD repeat-purchase model with Gamma-Gamma spend"),
    "historical": gettext_lazy("historical value (revenue − cost so far)"),
}


def _not_enough_data(short: dict) -> str:
    """Why a repeat buyer's CLV is only its value so far: the order base could not be modelled."""
    if short["customers"] < short["needed"] or short["repeat_buyers"] < short["needed_repeat_buyers"]:
        return _(
            "Not enough order history to estimate the value still to come: the repeat-purchase model needs"
            " at least %(needed)s customers of whom %(needed_repeat)s bought again; there are %(customers)s,"
            " of whom %(repeat)s bought again."
        ) % {"needed": short["needed"], "needed_repeat": short["needed_repeat_buyers"],
             "customers": short["customers"], "repeat": short["repeat_buyers"]}
    return _(
        "Not enough order history to estimate the value still to come: the orders are too few or too"
        " alike for the repeat-purchase model to learn from, so only the value so far is counted."
    )


def clv(estimate) -> dict | None:
    """How a CLV estimate was computed: the model, its inputs, and for contracts the seeds'
    formula (M − R)(1 + d)/(1 + d − r) with the same monthly margin, retention and discount."""
    if estimate is None:
        return None
    inputs = estimate.inputs or {}
    model = inputs.get("model", "")
    out = {"model": str(CLV_MODELS.get(model, model)), "lines": [], "formula": None}
    if inputs.get("not_enough_data"):
        out["lines"].append(_not_enough_data(inputs["not_enough_data"]))
    annual = inputs.get("annual_discount_rate")
    if annual is not None:
        out["lines"].append(_("Annual discount rate: %(rate)s") % {"rate": f"{annual * 100:.0f}%"})
    if model == "sBG":
        margin, retention = inputs.get("monthly_margin"), inputs.get("retention_next_month")
        out["lines"] += [
            _("Monthly margin (M − R): ¥%(value)s") % {"value": f"{margin:,.0f}"},
            _("Retention next month (r): %(rate)s") % {"rate": f"{retention * 100:.1f}%"},
            _("Discounted months still expected: %(months)s") % {
                "months": f"{inputs.get('discounted_expected_residual_months', 0):,.1f}"
            },
        ]
        if inputs.get("active") and annual is not None and margin is not None and retention is not None:
            d = (1 + annual) ** (1 / 12) - 1
            seed = float(retention_clv_paid_in_advance(margin, 0.0, retention, d))
            out["formula"] = _(
                "Seed formula (M − R)(1 + d)/(1 + d − r) with d = %(d)s a month and r = %(r)s: ¥%(value)s"
            ) % {"d": f"{d * 100:.2f}%", "r": f"{retention * 100:.1f}%", "value": f"{seed:,.0f}"}
    elif model == "BG/NBD + Gamma-Gamma":
        out["lines"] += [
            _("Expected purchases in the next 12 months: %(n)s") % {
                "n": f"{inputs.get('expected_purchases_next_52_weeks', 0):.1f}"
            },
            _("Expected order value: ¥%(value)s") % {"value": f"{inputs.get('expected_order_value', 0):,.0f}"},
        ]
    out["lines"] += [
        _("Value so far: ¥%(value)s") % {"value": f"{float(estimate.historical_value):,.0f}"},
        _("Value still expected: ¥%(value)s") % {"value": f"{float(estimate.future_value):,.0f}"},
    ]
    return out
