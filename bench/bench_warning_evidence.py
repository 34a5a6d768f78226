"""What a company could have seen 90 days before each churn: the ceiling of the early warning.

    CLM_DATA_DIR=... python -m bench.bench_warning_evidence --from 2025-12-01 --to 2026-12-07 [--step 14]

On the database the environment names (a built company, e.g. after `clm simulate`), for every
account whose last contract ended between ``--from`` + 90 days and ``--to``, the metrics as of the
last replayed date at least 90 days before its churn (so 90 to 90 + step days ahead: the latest
moment a flag would still count as in time), beside the same metrics of the accounts live that
day that did not churn within 180 days. Only what a company records is read (usage, contracts,
tickets, surveys, contacts, payments, deals), never the simulator's hidden state.

Each line of evidence is a plain rule a CSM would read (a usage fall deeper than the 10th
percentile of the staying accounts that day, a key person missing, a detractor's NPS…). It prints
the share of churners and of staying accounts showing each, and the share of churners showing
none: those leave without a sign 90 days ahead, and no detector can flag them in time without
flagging as many staying accounts at random.

Then the ceiling of any model on these metrics: gradient boosting and logistic regression fitted
on the replayed period's own outcomes (every live account on every date, churn within 180 days),
scored out of fold (folds by account) and in sample, their risk flagged as the early warning
flags (first date above a threshold; a flag is right when churn follows within 180 days, a
churner is caught when flagged 90 days ahead), and the best recall at precision 0.5 and 0.6. No
real deployment learns from the period it is judged on, so these figures are upper bounds for
the early warning's. The load average is printed beside the timing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time

import pandas as pd

HORIZON = 180
LEAD = 90
QUANTILE = 0.10  # a fall deeper than this quantile of the staying accounts' that day


def evidence(frame: pd.DataFrame, cut: pd.Series) -> pd.DataFrame:
    """Per account-date row, which plain rules hold (bool columns). ``cut``: per row, the usage
    quantiles of that date's staying accounts (columns logins_30d_vs_baseline, logins_30d_vs_peak)."""
    out = pd.DataFrame(index=frame.index)
    for name in ("logins_30d_vs_baseline", "logins_30d_vs_peak"):
        if name in frame:
            out[f"{name} in the lowest 10%"] = frame[name] <= cut[name]
    out["no activity for 14 days"] = frame["days_since_last_activity"].fillna(999) >= 14
    out["a key person missing"] = frame["key_people_missing"].fillna(0) > 0
    out["a key person left in 90 days"] = frame["key_contacts_left_90d"] > 0
    out["latest NPS a detractor (≤ 6)"] = frame["nps_latest"] <= 6
    out["NPS falling (half-year trend ≤ −1)"] = frame["nps_trend"] <= -1
    out["CSAT ≤ 3"] = frame["csat_latest"] <= 3
    out["a complaint in 90 days"] = frame["complaints_90d"] > 0
    out["an SLA breach in 90 days"] = frame["sla_breaches_90d"] > 0
    out["an invoice 15+ days overdue"] = frame["overdue_days_max"].fillna(0) >= 15
    out["a contraction in 180 days"] = frame["contractions_180d"] > 0
    out["renewal deal says leaving"] = frame["renewal_intent"] == -1
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--from", dest="start", required=True, type=dt.date.fromisoformat)
    parser.add_argument("--to", dest="end", required=True, type=dt.date.fromisoformat)
    parser.add_argument("--step", type=int, default=14, help="days between replayed dates (default 14)")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clm.settings")
    import django

    django.setup()
    from clm.lifecycle import metrics, services

    began = time.perf_counter()
    churns = services.churn_events()
    churns = churns[churns["event"] == "churn"].groupby("account")["date"].min()
    dates = []
    day = args.start
    while day <= args.end - dt.timedelta(days=LEAD):
        dates.append(day)
        day += dt.timedelta(days=args.step)
    rows, snapshots = [], []
    grid = list(dates)
    while day <= args.end:
        grid.append(day)
        day += dt.timedelta(days=args.step)
    for day in grid:
        stamp = pd.Timestamp(day)
        # churners whose last in-time moment this date is: churn 90 to 90 + step days after it
        due = churns[(churns > stamp + pd.Timedelta(days=LEAD - 1)) & (churns <= stamp + pd.Timedelta(days=LEAD + args.step - 1))]
        frame = metrics.compute(day)
        live = frame[frame["subscriptions_active"] > 0]
        snapshots.append(live.assign(as_of=stamp).rename_axis("account").reset_index())
        if day not in dates:
            continue
        next_churn = churns.reindex(live.index)
        stays = live[~((next_churn > stamp) & (next_churn <= stamp + pd.Timedelta(days=HORIZON)))]
        cut = stays[["logins_30d_vs_baseline", "logins_30d_vs_peak"]].quantile(QUANTILE)
        churners = live.loc[live.index.intersection(due.index)]
        for group, part in (("churner", churners), ("stays", stays)):
            if len(part):
                found = evidence(part, pd.Series(cut))
                rows.append(found.assign(group=group, date=day, account=part.index))
        print(f"  {day}: {len(churners)} churners due, {len(stays)} staying", flush=True)
    table = pd.concat(rows, ignore_index=True)
    rules = [c for c in table.columns if c not in ("group", "date", "account")]
    table["any"] = table[rules].any(axis=1)
    table["count"] = table[rules].sum(axis=1)
    churner, stays = table[table["group"] == "churner"], table[table["group"] == "stays"]
    print(f"\nChurners between {args.start + dt.timedelta(days=LEAD)} and {args.end}, seen {LEAD}–{LEAD + args.step - 1} days ahead: "
          f"{len(churner)}; staying account-dates: {len(stays):,}")  # fmt: skip
    print(f"{'evidence':42s} {'churners':>9s} {'staying':>9s}  lift")
    for rule in [*rules, "any"]:
        c, s = churner[rule].mean(), stays[rule].mean()
        print(f"{rule:42s} {c:9.1%} {s:9.1%}  {c / s if s else float('nan'):5.1f}")
    for k in (1, 2, 3):
        c, s = (churner["count"] >= k).mean(), (stays["count"] >= k).mean()
        print(f"{f'{k} or more lines of evidence':42s} {c:9.1%} {s:9.1%}  {c / s if s else float('nan'):5.1f}")
    print(f"\nChurners with no evidence at all {LEAD} days ahead: {(~churner['any']).sum()} of {len(churner)} "
          f"({(~churner['any']).mean():.0%}); their accounts: {sorted(churner.loc[~churner['any'], 'account'].tolist())}")
    ceiling(pd.concat(snapshots, ignore_index=True), churns, args.start, args.end)
    print(f"{time.perf_counter() - began:.0f} s; load average {os.getloadavg()[0]:.1f}")


def ceiling(rows: pd.DataFrame, churns: pd.Series, start: dt.date, end: dt.date) -> None:
    """The early warning's figures if a model knew the replayed period's outcomes (see the module)."""
    from clm.analytics.churn import make_pipeline
    from clm.analytics.evaluation import churn_scope, cross_validate_model, flag_curve
    from clm.lifecycle.metrics import today
    from clm.lifecycle.training import CATEGORICAL, NUMERIC

    next_churn = churns.reindex(rows["account"]).to_numpy()
    ahead = (pd.to_datetime(next_churn) - rows["as_of"]).dt.days
    y = ((ahead > 0) & (ahead <= HORIZON)).astype(int).to_numpy()
    numeric = [c for c in NUMERIC if c in rows and rows[c].notna().sum() > 0 and c not in ("health_score",)]
    categorical = [c for c in CATEGORICAL if c in rows and c != "health_band"]
    X = rows[numeric + categorical]
    in_scope, out_of_scope = churn_scope(churns, start, end, min_lead_days=LEAD, observed_until=today())
    keep = ~rows["account"].isin(out_of_scope)
    print(f"\nCeiling: {len(rows):,} account-dates, {int(y.sum()):,} followed by churn within {HORIZON} days; "
          f"{len(in_scope)} churners in scope")  # fmt: skip
    for kind in ("gradient_boosting", "logistic"):
        folds = cross_validate_model(lambda kind=kind: make_pipeline(kind, numeric, categorical), X, y, 5, 0, rows["account"])
        fitted = make_pipeline(kind, numeric, categorical).fit(X, y)
        for name, score in (("out of fold", folds.scores), ("in sample", fitted.predict_proba(X)[:, 1])):
            scores = rows[["account", "as_of"]].assign(score=score)[keep]
            curve = flag_curve(scores, in_scope, min_lead_days=LEAD, horizon_days=HORIZON, observed_until=today())
            best = {
                target: max(
                    (p for p in curve if p.precision is not None and p.precision >= target),
                    key=lambda p: p.recall_in_time or 0.0, default=None,
                )
                for target in (0.5, 0.6)
            }  # fmt: skip
            said = "; ".join(
                f"precision ≥ {t}: " + ("none" if p is None else f"recall {p.recall_in_time:.2f} (precision {p.precision:.2f}, {p.flagged} flagged)")
                for t, p in best.items()
            )  # fmt: skip
            print(f"  {kind}, {name} (row AUC {folds.mean_auc:.3f} out of fold): {said}")


if __name__ == "__main__":
    main()
