"""What the lead centre shows: a lead's scores with their reasons in words (in the user's
language), its next step, the funnel report (rates, median days, CAC per converted customer) and
the fit report (how well the rules and the lookalike separated good customers from poor ones)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from clm.analytics import fit as fitting
from clm.analytics import funnel as funnel_math
from clm.core.access import visible_records
from clm.core.frames import money as money_column
from clm.core.frames import read_frame
from clm.core.money import money
from clm.sales import funnel, scoring
from clm.sales.models import ICP, ChannelSpend, FitModel, Lead, LeadActivity

STAGE_COLUMNS = {"mal": "mal_at", "mql": "mql_at", "sql": "sql_at", "opportunity": "opportunity_at",
                 "customer": "converted_at"}


def feature_label(feature: str) -> str:
    return {"industry": _("Industry"), "region": _("Region"), "size_band": _("Size"), "tag": _("Tag"),
            "tags": _("Tags"), "annual_revenue": _("Annual revenue"), "employee_count": _("Employees"), "domain": _("Domain")}.get(
        feature, feature.removeprefix("custom."))


def stage_label(code: str) -> str:
    if code == "customer":
        code = Lead.Status.CONVERTED
    return str(Lead.Status(code).label) if code in Lead.Status.values else code


def rule_text(rule: dict) -> str:
    """An ICP rule in words: "Industry is one of 制造业, 软件"."""
    label, value = feature_label(rule["field"]), rule["value"]
    if rule["op"] == "between":
        low, high = value
        if high is None:
            return _("%(field)s at least %(low)s") % {"field": label, "low": f"{low:,.0f}"}
        if low is None:
            return _("%(field)s below %(high)s") % {"field": label, "high": f"{high:,.0f}"}
        return _("%(field)s from %(low)s to below %(high)s") % {"field": label, "low": f"{low:,.0f}", "high": f"{high:,.0f}"}
    values = "、".join(str(v) for v in value)
    if rule["op"] == "not_in":
        return _("%(field)s is none of %(values)s") % {"field": label, "values": values}
    if rule["op"] == "has_any":
        return _("Carries any of the tags %(values)s") % {"values": values}
    return _("%(field)s is one of %(values)s") % {"field": label, "values": values}


def rule_problems(rules) -> list[str]:
    """What is wrong with ICP rules, in words (clm.analytics.fit.check_rules)."""
    words = {
        "no_rules": _("At least one rule is needed."),
        "not_object": _("Rule %(n)s: expected an object with field, op, value and weight."),
        "unknown_field": _("Rule %(n)s: unknown field “%(value)s”."),
        "unknown_op": _("Rule %(n)s: unknown op “%(value)s” (use in, not_in, between or has_any)."),
        "between": _("Rule %(n)s: between needs [low, high], numbers or null."),
        "values": _("Rule %(n)s: %(value)s needs a non-empty list of values."),
        "weight": _("Rule %(n)s: the weight must be a number above 0, at most 100."),
    }
    return [words[code] % {"n": n, "value": value} for n, code, value in fitting.check_rules(rules)]


def icp_reasons(icp: ICP | None, held: list[int]) -> list[str]:
    if icp is None:
        return []
    return [f"{'✓' if i in held else '✗'} {weighted_rule_text(rule)}" for i, rule in enumerate(icp.rules)]


def weighted_rule_text(rule: dict) -> str:
    return _("%(rule)s (weight %(weight)s)") % {"rule": rule_text(rule), "weight": rule.get("weight", 1)}


def fit_reason_text(reason: dict) -> str:
    label = feature_label(reason["feature"])
    value, effect = reason["value"], reason["effect"]
    if reason["feature"] == "annual_revenue":
        value = _("unknown") if value == "?" else money(float(value or 0), compact=True)
    if value.startswith("!"):
        words = (_("%(field)s is not %(value)s, which many of your best customers are") if effect < 0
                 else _("%(field)s is not %(value)s, which is common among churned or low-value customers"))
        return words % {"field": label, "value": value[1:]}
    if effect > 0:
        return (_("%(field)s %(value)s: like your best customers") % {"field": label, "value": value}).replace("  ", " ")
    return (_("%(field)s %(value)s: like your churned or low-value customers") % {"field": label, "value": value}).replace("  ", " ")


def kind_label(kind: str) -> str:
    return str(LeadActivity.Kind(kind).label) if kind in LeadActivity.Kind.values else kind


def engagement_reasons(lead: Lead, half_life: int) -> list[str]:
    parts = sorted((lead.engagement_parts or {}).items(), key=lambda kv: -kv[1])
    out = [_("%(kind)s: %(points)s points") % {"kind": kind_label(k), "points": f"{v:.1f}"} for k, v in parts]
    out.append(_("Older activity counts half every %(days)s days.") % {"days": half_life})
    return out


def next_step(lead: Lead) -> str:
    if lead.status == Lead.Status.DISQUALIFIED:
        return _("Disqualified: %(reason)s") % {"reason": lead.disqualify_reason or "—"}
    if lead.status == Lead.Status.CONVERTED:
        return _("A customer: look after the account.")
    if lead.status == Lead.Status.OPPORTUNITY:
        return _("Work the opportunity on the account until it is won or lost.")
    if lead.status == Lead.Status.SQL:
        return _("Qualified for sales: call, then convert the lead to an account and a deal.")
    target = Lead.Status.MQL if lead.status == Lead.Status.MAL else Lead.Status.SQL
    missing = funnel.criteria_hold(lead, target)
    if not missing:
        return _("Meets the %(stage)s criteria: it moves in the next run.") % {"stage": stage_label(target)}
    return _("Nurture towards %(stage)s: %(missing)s.") % {"stage": stage_label(target), "missing": "; ".join(missing)}


def explain(lead: Lead) -> dict:
    settings = scoring.scoring_settings()
    return {
        "lead": lead.pk,
        "icp": lead.icp.name if lead.icp else None,
        "icp_score": lead.icp_score,
        "icp_reasons": icp_reasons(lead.icp, lead.icp_rules or []),
        "fit_score": lead.fit_score,
        "fit_reasons": [fit_reason_text(r) for r in lead.fit_reasons or []],
        "engagement_score": lead.engagement_score,
        "engagement_reasons": engagement_reasons(lead, settings.half_life_days),
        "next_step": next_step(lead),
    }


# -- the funnel report ------------------------------------------------------------------------------


def funnel_report(user, *, since: dt.date | None = None, until: dt.date | None = None, by: str | None = None) -> dict:
    """Leads that came in from ``since`` to ``until`` (the last 12 months by default), how far
    they got, grouped ``by`` source_channel, icp or owner; CAC = spend of the months in range
    over the customers converted from each channel's leads in range."""
    until = until or timezone.localdate()
    since = since or (until - dt.timedelta(days=365))
    leads = visible_records(Lead, user).filter(mal_at__date__gte=since, mal_at__date__lte=until)
    group = {"source_channel": "source_channel", "icp": "icp__name", "owner": "owner__username", None: "source_channel"}[by]
    frame = read_frame(leads.values_list(group, *STAGE_COLUMNS.values()), ["group", *[f"{s}_at" for s in STAGE_COLUMNS]])
    frame["group"] = frame["group"].fillna("").replace("", "—")
    overall = funnel_math.funnel(frame).to_dict("records")
    rows = funnel_math.funnel(frame, by="group").to_dict("records") if by else overall
    spend = read_frame(
        ChannelSpend.objects.filter(month__gte=since.replace(day=1), month__lte=until).values_list("channel", money_column("amount")),
        ["channel", "amount"],
    )
    won = read_frame(
        visible_records(Lead, user).filter(converted_at__date__gte=since, converted_at__date__lte=until)
        .values_list("source_channel"), ["channel"],
    )
    cac = funnel_math.cac_per_customer(spend, won) if len(spend) or len(won) else pd.DataFrame(
        columns=["channel", "spend", "customers", "cac"])
    return {"since": since, "until": until, "by": by, "rows": rows, "overall": overall, "cac": cac.to_dict("records")}


def fit_report() -> dict:
    """The latest lookalike's held-out report beside the rules'; None fields when no model yet."""
    row = FitModel.objects.defer("blob").first()
    icps = list(ICP.objects.values("key", "name", "product_line", "active", "match_at"))
    return {"trained_at": row.trained_at if row else None, "as_of": row.as_of if row else None,
            "report": row.report if row else None, "icps": icps}


def icp_match_share(leads) -> tuple[int, int]:
    """(leads matching an ICP at its match_at score, leads scored) among ``leads``."""
    scored = leads.filter(icp__isnull=False)
    matched = scored.filter(icp_score__gte=F("icp__match_at"))
    return matched.count(), scored.count()
