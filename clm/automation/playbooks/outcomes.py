"""The uplift report of a playbook: did treated accounts reach the playbook's outcome within N days
of enrolling more often than held-out ones? Only enrollments whose N days have passed count.
The statistics are clm.analytics.uplift's; this module reads who reached the outcome, with one
query per outcome over all the enrollments."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from clm.analytics.uplift import share_saved, uplift
from clm.automation.models import Enrollment, Playbook


def _events(kind: str, accounts: list[int], leads: list[int]) -> pd.DataFrame:
    """(subject, date) rows of the days each subject reached the outcome."""
    from clm.commerce.models import Order, SubscriptionChange
    from clm.lifecycle import services as lifecycle
    from clm.sales.models import Lead
    from clm.usage.models import UsageDaily

    if kind == "retained":  # the failures: churn days
        churn = lifecycle.churn_events()
        churn = churn[(churn["event"] == "churn") & churn["account"].isin(accounts)]
        rows = list(zip(churn["account"].map(lambda a: f"account:{a}"), churn["date"].dt.date, strict=True))
    elif kind in ("renewed", "expanded"):
        change = SubscriptionChange.Kind.RENEWAL if kind == "renewed" else SubscriptionChange.Kind.EXPANSION
        found = SubscriptionChange.objects.filter(account_id__in=accounts, kind=change).values_list(
            "account_id", "effective_date"
        )
        rows = [(f"account:{a}", d) for a, d in found]
    elif kind == "reactivated":
        used = UsageDaily.objects.filter(account_id__in=accounts, active_users__gt=0).values_list(
            "account_id", "day"
        )
        bought = Order.objects.filter(account_id__in=accounts).values_list("account_id", "ordered_on")
        rows = [(f"account:{a}", d) for a, d in [*used, *bought]]
    else:  # converted: a lead converted, or an account's first contract or order
        leads_done = Lead.objects.filter(pk__in=leads, converted_at__isnull=False).values_list(
            "pk", "converted_at"
        )
        rows = [(f"lead:{pk}", timezone.localdate(at)) for pk, at in leads_done]
        firsts = SubscriptionChange.objects.filter(
            account_id__in=accounts, kind=SubscriptionChange.Kind.NEW
        ).values_list("account_id", "effective_date")
        rows += [
            (f"account:{a}", d)
            for a, d in [
                *firsts,
                *Order.objects.filter(account_id__in=accounts).values_list("account_id", "ordered_on"),
            ]
        ]
    return pd.DataFrame.from_records(rows, columns=["subject", "date"])


def known_through() -> dt.date:
    """The last day whose outcomes are known: the date of the latest finished daily run (the data
    a demo built as of a past date ends there), today when no run has finished."""
    from clm.lifecycle.models import Run

    latest = Run.objects.filter(status=Run.Status.DONE).order_by("-as_of").values_list("as_of", flat=True)
    return min(latest.first() or timezone.localdate(), timezone.localdate())


def outcome_frame(playbook: Playbook, as_of: dt.date | None = None) -> pd.DataFrame:
    """Per matured enrollment: held_out, and whether the outcome was reached in the window (by
    ``as_of``, by default the last day whose outcomes are known)."""
    as_of = as_of or known_through()
    rows = list(
        Enrollment.objects.filter(playbook=playbook).values_list(
            "pk", "account_id", "lead_id", "held_out", "started_at"
        )
    )
    frame = pd.DataFrame.from_records(
        rows, columns=["enrollment", "account", "lead", "held_out", "started_at"]
    )
    if frame.empty:
        return frame.assign(success=pd.Series(dtype=bool))
    frame["start"] = [timezone.localdate(t) for t in frame["started_at"]]
    frame["end"] = frame["start"] + dt.timedelta(days=playbook.outcome_days)
    frame = frame[frame["end"] <= as_of].copy()
    if frame.empty:
        return frame.assign(success=pd.Series(dtype=bool))
    frame["subject"] = [
        f"account:{int(a)}" if pd.notna(a) else f"lead:{int(lead)}"
        for a, lead in zip(frame["account"], frame["lead"], strict=True)
    ]
    accounts = [int(a) for a in frame["account"].dropna().unique()]
    leads = [int(x) for x in frame["lead"].dropna().unique()]
    events = _events(playbook.outcome, accounts, leads)
    merged = frame[["enrollment", "subject", "start", "end"]].merge(events, on="subject", how="left")
    inside = merged["date"].notna() & (merged["date"] > merged["start"]) & (merged["date"] <= merged["end"])
    reached = merged[inside.to_numpy()].groupby("enrollment").size()
    hit = frame["enrollment"].isin(reached.index).to_numpy()
    # Retention is reaching the end of the window without churning.
    frame["success"] = ~hit if playbook.outcome == Playbook.Outcome.RETAINED else hit
    return frame


def report(playbook: Playbook, as_of: dt.date | None = None) -> dict:
    frame = outcome_frame(playbook, as_of)
    held = frame["held_out"].to_numpy(dtype=bool) if len(frame) else np.zeros(0, dtype=bool)
    success = frame["success"].to_numpy(dtype=bool) if len(frame) else np.zeros(0, dtype=bool)
    result = uplift(int((~held).sum()), int(success[~held].sum()), int(held.sum()), int(success[held].sum()))
    return {
        "playbook": playbook.key,
        "outcome": playbook.outcome,
        "outcome_days": playbook.outcome_days,
        "holdout": playbook.holdout,
        "enrollments": Enrollment.objects.filter(playbook=playbook).count(),
        "matured": int(len(frame)),
        **result.as_dict(),
    }


# -- plays proven to save revenue (for ranking work by expected revenue saved) -----------------

SAVING_OUTCOMES = (Playbook.Outcome.RETAINED, Playbook.Outcome.RENEWED)


@dataclass(frozen=True)
class Proven:
    playbook_id: int
    key: str
    name_zh: str
    name_en: str
    share: float  # of the losses held-out accounts suffered, the share the play prevented


def proven_plays(today: dt.date) -> list[Proven]:
    """The active playbooks whose outcome is keeping the customer (retained, renewed) and whose
    uplift interval lies above 0, with the share of losses each saves; computed once a day (the
    report reads every matured enrollment)."""

    def compute():
        found = []
        for playbook in Playbook.objects.filter(active=True, outcome__in=SAVING_OUTCOMES, holdout__gt=0):
            result = report(playbook)
            if result["low"] is not None and not result["too_small"] and result["low"] > 0:
                share = share_saved(result["treated_rate"], result["held_out_rate"])
                found.append(Proven(playbook.pk, playbook.key, playbook.name_zh, playbook.name_en, share))
        return found

    return cache.get_or_set(f"clm:automation:proven-plays:{today.isoformat()}", compute, 6 * 3600)


def plays_applying(account_ids, plays: list[Proven], today: dt.date) -> dict[int, Proven]:
    """Per account, the proven play being run on it (a treated enrollment still active or within
    the playbook's outcome window), the one saving the largest share when several are."""
    if not plays:
        return {}
    by_id = {p.playbook_id: p for p in plays}
    windows = dict(Playbook.objects.filter(pk__in=by_id).values_list("pk", "outcome_days"))
    recent = Q()
    for pk, days in windows.items():
        since = timezone.make_aware(dt.datetime.combine(today - dt.timedelta(days=days), dt.time()))
        recent |= Q(playbook_id=pk, started_at__gte=since)
    rows = Enrollment.objects.filter(account_id__in=list(account_ids), held_out=False).filter(
        recent | Q(status=Enrollment.Status.ACTIVE, playbook_id__in=list(by_id))
    )
    chosen: dict[int, Proven] = {}
    for account, playbook in rows.values_list("account_id", "playbook_id").distinct():
        play = by_id[playbook]
        if account not in chosen or play.share > chosen[account].share:
            chosen[account] = play
    return chosen
