"""Work ranked by what is at stake: accounts ordered by revenue at risk, ARR × the probability of
churning within 90 days, each with its reason in words ("ARR ¥240,000 × 34% ..."). Once a play has
measured uplift whose interval excludes 0 (clm.automation.playbooks.outcomes.proven_plays), the
accounts it is being run on come first, by expected revenue saved: ARR × risk × the share of losses
the play saves ("ARR ¥240,000 × 34% risk × 12% saved by 流失挽回").

The probability is the churn model's latest stored prediction for the account (converted to 90
days when the model's horizon differs), else the churn rate observed, over the stored history,
among accounts that were in the account's health band 90 days before. Accounts with neither come
last, by ARR."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd
from django.core.cache import cache
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from clm.automation.playbooks import outcomes
from clm.commerce.models import Subscription
from clm.core.models import workspace_scope
from clm.core.money import money
from clm.lifecycle import services as lifecycle
from clm.lifecycle.models import ChurnPrediction, HealthScore

HORIZON_DAYS = 90
SAMPLES = 12  # health snapshots (about a month apart) that the observed band rates are read from
# The bands' names in the same context as the workspace's (clm.web.labels), so one translation serves.
BAND_NAMES = {"green": "Healthy", "yellow": "Watch", "red": "At risk"}


# -- the rule (plain numbers and frames) ----------------------------------------------------------


def within_horizon(probability, horizon_days, target_days: int = HORIZON_DAYS):
    """A churn probability over `horizon_days` restated over `target_days`, assuming a constant
    hazard over the window: 1 − (1 − p)^(target / horizon)."""
    p = np.clip(np.asarray(probability, dtype=float), 0.0, 1.0)
    return 1.0 - (1.0 - p) ** (target_days / np.asarray(horizon_days, dtype=float))


def band_churn_rates(scores: pd.DataFrame, churns: pd.DataFrame, horizon_days: int = HORIZON_DAYS) -> dict:
    """{band: (rate, accounts judged)}: of the accounts scored in a band on a day, the share whose
    account churned within the next `horizon_days`. scores: account, as_of, band; churns: account,
    date (each churn of an account)."""
    if scores.empty:
        return {}
    frame = scores[["account", "as_of", "band"]].copy()
    frame["as_of"] = pd.to_datetime(frame["as_of"])
    frame["row"] = np.arange(len(frame))
    if churns.empty:
        frame["churned"] = False
    else:
        joined = frame.merge(churns[["account", "date"]].assign(date=lambda f: pd.to_datetime(f["date"])), on="account")
        ahead = joined["date"] - joined["as_of"]
        hit = joined.loc[(ahead > pd.Timedelta(0)) & (ahead <= pd.Timedelta(days=horizon_days)), "row"]
        frame["churned"] = frame["row"].isin(hit)
    grouped = frame.groupby("band")["churned"].agg(["mean", "size"])
    return {band: (float(row["mean"]), int(row["size"])) for band, row in grouped.iterrows()}


def rank(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of account, arr, probability (NaN when unknown) and, optionally, saved (the share of
    losses a proven play being run on the account saves; NaN when none). Accounts a proven play
    applies to come first, by expected revenue saved = arr × probability × saved; then the others
    by revenue at risk = arr × probability; unknown risks last, by ARR. Adds at_risk and saved_value."""
    out = frame.copy()
    out["at_risk"] = out["arr"].astype(float) * out["probability"].astype(float)
    saved = out["saved"].astype(float) if "saved" in out else pd.Series(np.nan, index=out.index)
    out["saved_value"] = out["at_risk"] * saved
    out["proven"] = out["saved_value"].notna()
    out["known"] = out["probability"].notna()
    out["key"] = out["saved_value"].where(out["proven"], out["at_risk"])
    order = ["proven", "known", "key", "arr", "account"]
    out = out.sort_values(order, ascending=[False, False, False, False, True], kind="stable")
    return out.drop(columns=["proven", "known", "key"]).reset_index(drop=True)


# -- reading it from the database -----------------------------------------------------------------


@dataclass
class Stake:
    account_id: int
    arr: Decimal
    probability: float | None
    basis: str  # "model", "band" or "" (no estimate)
    band: str
    at_risk: float | None
    explanation: str
    play: str = ""  # the proven play being run on the account (its key), if any
    saved_share: float | None = None
    saved_value: float | None = None  # expected revenue saved: ARR × probability × saved_share


def observed_band_rates(today: dt.date) -> dict:
    """The observed 90-day churn rate of each health band (see band_churn_rates), from stored
    health snapshots at least 90 days old; computed once a day."""

    def compute():
        cutoff = today - dt.timedelta(days=HORIZON_DAYS)
        days = sorted(
            HealthScore.objects.filter(as_of__lte=cutoff, as_of__gt=cutoff - dt.timedelta(days=365))
            .values_list("as_of", flat=True).distinct(),
            reverse=True,
        )
        chosen = []
        for day in days:  # about a month apart, newest first
            if not chosen or (chosen[-1] - day).days >= 28:
                chosen.append(day)
            if len(chosen) == SAMPLES:
                break
        scores = pd.DataFrame.from_records(
            list(HealthScore.objects.filter(as_of__in=chosen).values_list("account_id", "as_of", "band")),
            columns=["account", "as_of", "band"],
        )
        events = lifecycle.churn_events(until=today)
        return band_churn_rates(scores, events[events["event"] == "churn"])

    return cache.get_or_set(f"clm:automation:band-churn:{today.isoformat()}", compute, 6 * 3600)


def percent(p: float) -> str:
    text = f"{p * 100:.1f}".rstrip("0").rstrip(".")
    return f"{text}%"


def explain(arr, probability: float | None, basis: str, band: str, play=None) -> str:
    values = {"arr": money(arr), "p": percent(probability) if probability is not None else ""}
    if play is not None and probability is not None:
        name = play.name_zh if (translation.get_language() or "zh")[:2] == "zh" else play.name_en
        values.update(saved=percent(play.share), play=name)
        return _("ARR %(arr)s × %(p)s risk × %(saved)s saved by %(play)s") % values
    if basis == "model":
        return _("ARR %(arr)s × %(p)s churn risk within 90 days (churn model)") % values
    if basis == "band":
        values["band"] = pgettext("health band", BAND_NAMES[band]) if band in BAND_NAMES else band
        return _("ARR %(arr)s × %(p)s churn risk within 90 days (observed in health band %(band)s)") % values
    return _("ARR %(arr)s · no churn risk estimate yet") % values


def accounts_at_stake(accounts, *, today: dt.date | None = None, limit: int = 10) -> list[Stake]:
    """The accounts with live contracts among `accounts` (a queryset already limited to what the
    user may see), ranked by revenue at risk within 90 days; a fixed number of queries."""
    today = today or timezone.localdate()
    arr = {
        pk: total
        for pk, total in Subscription.objects.filter(account__in=accounts.values("pk")).arr_by_account()
        if total and total > 0
    }
    if not arr:
        return []
    ids = list(arr)
    bands = dict(accounts.filter(pk__in=ids).values_list("pk", "health_band"))
    predicted = {}
    for pk, probability, horizon in (
        ChurnPrediction.objects.filter(account_id__in=ids, as_of__lte=today)
        .order_by("account_id", "-as_of").values_list("account_id", "probability", "model__horizon_days")
    ):
        predicted.setdefault(pk, float(within_horizon(probability, horizon or HORIZON_DAYS)))
    rates = observed_band_rates(today) if len(predicted) < len(ids) else {}
    rows = []
    for pk in ids:
        if pk in predicted:
            rows.append((pk, float(arr[pk]), predicted[pk], "model"))
        elif bands.get(pk) in rates:
            rows.append((pk, float(arr[pk]), rates[bands[pk]][0], "band"))
        else:
            rows.append((pk, float(arr[pk]), np.nan, ""))
    # Once a play has proven it saves customers, the accounts it is run on rank by what it saves.
    plays = outcomes.plays_applying(ids, outcomes.proven_plays(today), today)
    frame = pd.DataFrame(rows, columns=["account", "arr", "probability", "basis"])
    frame["saved"] = [plays[a].share if a in plays else np.nan for a in frame["account"]]
    ranked = rank(frame).head(limit)
    stakes = []
    with workspace_scope():  # the workspace's currency read once for every explanation
        for row in ranked.itertuples(index=False):
            probability = None if np.isnan(row.probability) else float(row.probability)
            play = plays.get(row.account) if probability is not None else None
            stakes.append(Stake(
                account_id=int(row.account),
                arr=arr[row.account],
                probability=probability,
                basis=row.basis,
                band=bands.get(row.account, ""),
                at_risk=None if probability is None else float(row.at_risk),
                explanation=explain(arr[row.account], probability, row.basis, bands.get(row.account, ""), play),
                play=play.key if play else "",
                saved_share=play.share if play else None,
                saved_value=float(row.saved_value) if play else None,
            ))
    return stakes
