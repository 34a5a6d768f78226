"""MRR movements per month (new, expansion, reactivation, contraction, churn) with opening and
closing MRR, and net and gross revenue retention (NRR, GRR), from monthly MRR per account or
from the subscription change ledger (``clm.commerce.models.SubscriptionChange``).

Two views, both checked against the identity
    closing = opening + new + expansion + reactivation − contraction − churn:

* **Account level** (``mrr_movements``, the product's default): each account's MRR at the end of
  each month is compared with the month before. 0 → x is *new* if the account never had MRR
  before, else *reactivation*; x → 0 is *churn*; up is *expansion*, down *contraction*. This is
  the standard SaaS definition (movements describe customers, not contracts): an existing customer
  who signs a second subscription expands, one who swaps product A for B at the same price does
  not move, and changes inside one month net out.
* **Ledger level** (``mrr_movements_from_changes``): each ledger row counts as its declared kind,
  so a second subscription of an existing customer is *new*. Useful to audit the ledger and to
  see contract-level activity; its totals (opening, closing, net new) equal the account view's.

Amounts of contraction and churn are positive numbers (MRR lost).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .value_frames import (
    AnalyticsInputError,
    amounts,
    as_month,
    days,
    ids,
    months,
    refuse,
    require_frame,
    to_periods,
)

SNAPSHOT_COLUMNS = ("account_id", "month", "mrr")
CHANGE_COLUMNS = ("account_id", "subscription_id", "effective_date", "kind", "mrr_before", "mrr_after")
CHANGE_KINDS = ("new", "renewal", "expansion", "contraction", "churn", "reactivation", "other")
MOVEMENTS = ("new", "expansion", "reactivation", "contraction", "churn")
MOVEMENT_COLUMNS = ("opening_mrr", *MOVEMENTS, "net_new_mrr", "closing_mrr")
RETENTION_COLUMNS = (
    "start_month",
    "accounts_at_start",
    "accounts_retained",
    "starting_mrr",
    "expansion",
    "contraction",
    "churn",
    "ending_mrr",
    "nrr",
    "grr",
)
_CENT = 0.005  # two MRR figures closer than half a cent are the same figure


@dataclass(frozen=True)
class _Grid:
    """MRR per account (rows) and month (columns, consecutive from month ordinal ``first``)."""

    accounts: pd.Index
    first: int
    values: np.ndarray

    @property
    def ordinals(self) -> np.ndarray:
        return np.arange(self.first, self.first + self.values.shape[1])


# ---------------------------------------------------------------- account level (default)


def account_mrr_by_month(changes: pd.DataFrame, *, end=None) -> pd.DataFrame:
    """Each account's MRR at the end of each month, from the change ledger.

    ``changes`` has the columns of ``CHANGE_COLUMNS``; a subscription's MRR at a month's end is
    the ``mrr_after`` of its last change on or before that day, and before its first row the
    ``mrr_before`` of that row. Months run from the first change to ``end`` (default: the last
    change). Returns columns account_id, month (Period[M]), mrr, one row per account and month
    with MRR above 0 — the input ``mrr_movements`` expects.
    """
    ledger = _Ledger.read(changes)
    if ledger is None:
        return _empty_snapshots()
    grid = ledger.account_grid(ledger.month_range(None, end))
    return _grid_to_snapshots(grid)


def account_mrr_movements(snapshots: pd.DataFrame, *, start=None, end=None) -> pd.DataFrame:
    """One row per account and month in which its MRR moved: account_id, month, movement (one of
    ``MOVEMENTS``), amount (positive), mrr_before, mrr_after.

    ``snapshots`` has columns account_id, month (a date, 'YYYY-MM' or Period), mrr; several rows of
    one account and month are added up (one row per subscription is fine), and an account absent
    from a month had no MRR that month. History is taken as complete: the month before the first
    snapshot has no MRR. With a partial history, pass ``start``: earlier months then only tell
    which accounts were seen before (reactivation, not new).
    """
    grid = _snapshot_grid(snapshots, end)
    columns = ["account_id", "month", "movement", "amount", "mrr_before", "mrr_after"]
    if grid is None:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in columns})
    code, amount, before = _classify(grid)
    keep = code >= 0
    keep[:, : _first_reported(grid, start)] = False
    rows, cols = np.nonzero(keep)
    out = pd.DataFrame(
        {
            "account_id": grid.accounts[rows],
            "month": to_periods(grid.first + cols),
            "movement": np.asarray(MOVEMENTS, dtype=object)[code[rows, cols]],
            "amount": amount[rows, cols],
            "mrr_before": before[rows, cols],
            "mrr_after": grid.values[rows, cols],
        }
    )
    return out.sort_values(["month", "account_id"], kind="stable", ignore_index=True)


def mrr_movements(snapshots: pd.DataFrame, *, start=None, end=None) -> pd.DataFrame:
    """MRR movements per month, account level: a frame indexed by month (Period[M]) with
    ``MOVEMENT_COLUMNS``; every month from the first snapshot (or ``start``) to the last (or
    ``end``) has a row, months without movement included. Input as ``account_mrr_movements``.
    """
    grid = _snapshot_grid(snapshots, end)
    if grid is None:
        return _empty_movements()
    code, amount, before = _classify(grid)
    totals = {name: (amount * (code == i)).sum(axis=0) for i, name in enumerate(MOVEMENTS)}
    table = _movement_table(grid.ordinals, before.sum(axis=0), totals, grid.values.sum(axis=0))
    return table.iloc[_first_reported(grid, start) :]


# ---------------------------------------------------------------- ledger level


def mrr_movements_from_changes(changes: pd.DataFrame, *, start=None, end=None) -> pd.DataFrame:
    """MRR movements per month as the ledger declares them (subscription level).

    Each row of ``changes`` (``CHANGE_COLUMNS``) counts its MRR change as its ``kind``: new,
    reactivation and churn as such; expansion, contraction, and renewal or other changes of
    price by the sign of mrr_after − mrr_before. Rows must chain: a subscription's
    ``mrr_before`` is its previous ``mrr_after``; a new or reactivated subscription starts from 0;
    a churned one ends at 0. Same table as ``mrr_movements``.
    """
    ledger = _Ledger.read(changes)
    if ledger is None:
        return _empty_movements()
    span = ledger.month_range(None, end)
    states = ledger.subscription_grid(span)
    delta = ledger.after - ledger.before
    movement = np.where(delta > 0, 1, 3)  # expansion, contraction
    for kind in ("new", "reactivation", "churn"):
        movement = np.where(ledger.kind == kind, MOVEMENTS.index(kind), movement)
    column = ledger.month - span[0]
    inside = column <= span[1] - span[0]
    n = span[1] - span[0] + 1
    totals = {
        name: np.bincount(column[inside & (movement == i)], np.abs(delta[inside & (movement == i)]), n)
        for i, name in enumerate(MOVEMENTS)
    }
    closing = states.sum(axis=0)
    opening = np.concatenate([[ledger.initial.sum()], closing[:-1]])
    table = _movement_table(np.arange(span[0], span[1] + 1), opening, totals, closing)
    return table.iloc[max(0, as_month(start, "start") - span[0]) if start is not None else 0 :]


# ---------------------------------------------------------------- NRR and GRR


def revenue_retention(snapshots: pd.DataFrame, *, window: int = 1, start=None, end=None) -> pd.DataFrame:
    """Net and gross revenue retention over ``window`` months (1: monthly; 12: trailing twelve),
    one row per end month, from monthly MRR per account (as ``mrr_movements``).

    The cohort is the accounts with MRR in the start month (end month − window); each is
    compared point to point with its MRR in the end month:
        NRR = (starting + expansion − contraction − churn) / starting = cohort's ending / starting
        GRR = (starting − contraction − churn) / starting
    (the usual SaaS definitions; GRR never exceeds 1 because an account's expansion is not
    counted). Accounts that were not customers at the start — new ones and ones reactivated
    from a lapse that covered the start month — are outside both. A cohort account that churned
    and came back inside the window counts with its MRR at the end. Columns
    ``RETENTION_COLUMNS``; nrr and grr are <NA> (undefined) when the starting MRR is 0. The
    first ``window`` months of data have no row.
    """
    if isinstance(window, bool) or not isinstance(window, int | np.integer) or window < 1:
        raise AnalyticsInputError("window", window, "must be a whole number of months, 1 or more")
    grid = _snapshot_grid(snapshots, end)
    if grid is None or grid.values.shape[1] <= window:
        return _empty_retention()
    begin, finish = grid.values[:, :-window], grid.values[:, window:]
    parts = {name: part.sum(axis=0) for name, part in _retention_parts(begin, finish).items()}
    cohort, starting, expansion, contraction, churn, ending = (
        parts["accounts_at_start"], parts["starting_mrr"], parts["expansion"], parts["contraction"], parts["churn"],
        parts["ending_mrr"])
    nrr, grr = _ratios(starting, contraction, churn, ending)
    months_index = pd.PeriodIndex(to_periods(grid.ordinals[window:]), name="month")
    table = pd.DataFrame(
        {
            "start_month": to_periods(grid.ordinals[:-window]),
            "accounts_at_start": cohort,
            "accounts_retained": parts["accounts_retained"],
            "starting_mrr": starting,
            "expansion": expansion,
            "contraction": contraction,
            "churn": churn,
            "ending_mrr": ending,
            "nrr": nrr,
            "grr": grr,
        },
        index=months_index,
    )
    if start is not None:
        table = table[grid.ordinals[window:] >= as_month(start, "start")]
    return table


def revenue_retention_by(snapshots: pd.DataFrame, groups: pd.Series, *, window: int, end) -> pd.DataFrame:
    """NRR and GRR over the ``window`` months up to ``end`` per group of accounts (``groups``:
    account_id → group, such as a signup cohort or an owner), with the definitions and columns of
    ``revenue_retention`` (one row per group with accounts at the start; start_month dropped).
    Accounts outside ``groups`` are left out."""
    if isinstance(window, bool) or not isinstance(window, int | np.integer) or window < 1:
        raise AnalyticsInputError("window", window, "must be a whole number of months, 1 or more")
    columns = [c for c in RETENTION_COLUMNS if c != "start_month"]
    grid = _snapshot_grid(snapshots, end)
    if grid is None or grid.values.shape[1] <= window:
        return pd.DataFrame(columns=columns)
    label = groups.reindex(grid.accounts)
    known = label.notna().to_numpy()
    codes, names = pd.factorize(label[known], sort=True)
    parts = _retention_parts(grid.values[known, -1 - window], grid.values[known, -1])
    sums = {name: np.bincount(codes, part.astype(float), len(names)) for name, part in parts.items()}
    table = pd.DataFrame(sums, index=pd.Index(names, name="group"))
    table = table[table["accounts_at_start"] > 0]
    for column in ("accounts_at_start", "accounts_retained"):
        table[column] = table[column].astype(int)
    table["nrr"], table["grr"] = _ratios(*(table[c].to_numpy() for c in ("starting_mrr", "contraction", "churn",
                                                                        "ending_mrr")))
    return table[columns]


def _ratios(starting, contraction, churn, ending):
    """NRR = ending ÷ starting; GRR = (starting − contraction − churn) ÷ starting; <NA> without a start."""
    defined = starting > 0
    safe = np.where(defined, starting, 1)
    nrr = pd.array(np.where(defined, ending / safe, np.nan), dtype="Float64")
    grr = pd.array(np.where(defined, (starting - contraction - churn) / safe, np.nan), dtype="Float64")
    return nrr, grr


def _retention_parts(begin: np.ndarray, finish: np.ndarray) -> dict[str, np.ndarray]:
    """Per account (and month column): whether it is in the cohort (MRR at the start) and kept,
    and its starting MRR, expansion, contraction, churn and ending MRR (see revenue_retention)."""
    cohort = begin > 0
    kept = cohort & (finish > 0)
    return {
        "accounts_at_start": cohort,
        "accounts_retained": kept,
        "starting_mrr": np.where(cohort, begin, 0),
        "expansion": np.where(cohort, np.maximum(finish - begin, 0), 0),
        "contraction": np.where(kept, np.maximum(begin - finish, 0), 0),
        "churn": np.where(cohort & ~kept, begin, 0),
        "ending_mrr": np.where(cohort, finish, 0),
    }


# ---------------------------------------------------------------- renewals


def contract_renewals(changes: pd.DataFrame, start, end, *, by: str = "account_id") -> pd.DataFrame:
    """Renewal rate of the contracts that came up for renewal in [start, end] (both days
    included), per value of the column ``by`` (an owner joined to the ledger, say):

        renewal rate = renewed / (renewed + lost)

    A contract counts as renewed once when the ledger has a ``renewal`` of it in the window, and
    as lost when it has a ``churn`` (a contract renewed and later cancelled in the window counts
    as lost). Input as ``mrr_movements_from_changes`` (CHANGE_COLUMNS) plus ``by``. Columns:
    renewed, lost, renewal_rate (<NA> when no contract came up)."""
    require_frame(changes, "changes", ("subscription_id", "effective_date", "kind", by))
    day = pd.to_datetime(changes["effective_date"])
    inside = changes[(day >= pd.Timestamp(start)) & (day <= pd.Timestamp(end))]
    inside = inside[inside["kind"].isin(("renewal", "churn"))]
    # per contract, lost when any of its moves in the window is a churn (vectorised: no function per group)
    lost = (inside["kind"] == "churn").groupby([inside[by], inside["subscription_id"]]).any()
    per = lost.groupby(level=0).agg(["size", "sum"]).astype("int64")
    counts = pd.DataFrame({"renewed": per["size"] - per["sum"], "lost": per["sum"]}, index=per.index)
    counts.index.name = by
    total = counts["renewed"] + counts["lost"]
    counts["renewal_rate"] = pd.array(np.where(total > 0, counts["renewed"] / total.where(total > 0, 1), np.nan),
                                      dtype="Float64")
    return counts


# ---------------------------------------------------------------- internals


def _snapshot_grid(snapshots: pd.DataFrame, end) -> _Grid | None:
    require_frame(snapshots, "snapshots", SNAPSHOT_COLUMNS)
    if snapshots.empty:
        return None
    account = ids(snapshots, "snapshots", "account_id")
    month = months(snapshots, "snapshots", "month")
    mrr = amounts(snapshots, "snapshots", "mrr", what="an MRR")
    last = month.max() if end is None else as_month(end, "end")
    inside = month <= last
    codes, accounts = pd.factorize(account[inside], sort=True)
    if len(accounts) == 0:
        return None
    first = int(month[inside].min())
    width = int(last) - first + 1
    flat = np.bincount(codes * width + (month[inside] - first), mrr[inside], len(accounts) * width)
    return _Grid(pd.Index(accounts, name="account_id"), first, flat.reshape(len(accounts), width))


def _classify(grid: _Grid) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Movement code (index in MOVEMENTS, −1 none), amount and previous MRR per account-month."""
    now = grid.values
    before = np.concatenate([np.zeros((now.shape[0], 1)), now[:, :-1]], axis=1)
    paying_before = np.maximum.accumulate(before > 0, axis=1)
    up, down = now - before, before - now
    code = np.full(now.shape, -1, dtype=np.int8)
    starts = (before == 0) & (now > 0)
    code[starts & ~paying_before] = MOVEMENTS.index("new")
    code[starts & paying_before] = MOVEMENTS.index("reactivation")
    code[(before > 0) & (now == 0)] = MOVEMENTS.index("churn")
    both = (before > 0) & (now > 0)
    code[both & (up > 0)] = MOVEMENTS.index("expansion")
    code[both & (down > 0)] = MOVEMENTS.index("contraction")
    amount = np.where(code >= 0, np.abs(up), 0.0)
    return code, amount, before


def _first_reported(grid: _Grid, start) -> int:
    return (
        0 if start is None else int(np.clip(as_month(start, "start") - grid.first, 0, grid.values.shape[1]))
    )


def _movement_table(ordinals, opening, totals, closing) -> pd.DataFrame:
    table = pd.DataFrame(
        {"opening_mrr": opening, **totals}, index=pd.PeriodIndex(to_periods(ordinals), name="month")
    )
    table["net_new_mrr"] = (
        table["new"] + table["expansion"] + table["reactivation"] - table["contraction"] - table["churn"]
    )
    table["closing_mrr"] = closing
    _check_identity(table)
    return table


def _check_identity(table: pd.DataFrame) -> None:
    gap = (table["opening_mrr"] + table["net_new_mrr"] - table["closing_mrr"]).abs()
    tolerance = 1e-9 * np.maximum(table["closing_mrr"].abs(), 1) + 1e-6
    if (gap > tolerance).any():
        month = gap.index[int(np.argmax((gap > tolerance).to_numpy()))]
        raise RuntimeError(f"MRR identity broken in {month}: opening + movements != closing ({gap[month]})")


def _grid_to_snapshots(grid: _Grid) -> pd.DataFrame:
    rows, cols = np.nonzero(grid.values > 0)
    return pd.DataFrame(
        {
            "account_id": grid.accounts[rows],
            "month": to_periods(grid.first + cols),
            "mrr": grid.values[rows, cols],
        }
    )


def _empty_snapshots() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": pd.Series(dtype=object),
            "month": pd.Series(dtype="period[M]"),
            "mrr": pd.Series(dtype=float),
        }
    )


def _empty_movements() -> pd.DataFrame:
    return pd.DataFrame(
        {c: pd.Series(dtype=float) for c in MOVEMENT_COLUMNS},
        index=pd.PeriodIndex([], freq="M", name="month"),
    )


def _empty_retention() -> pd.DataFrame:
    return pd.DataFrame(
        {c: pd.Series(dtype="Float64" if c in ("nrr", "grr") else float) for c in RETENTION_COLUMNS},
        index=pd.PeriodIndex([], freq="M", name="month"),
    )


@dataclass(frozen=True)
class _Ledger:
    """The change ledger, checked and sorted by subscription, day, then input order."""

    account: np.ndarray
    subscription: np.ndarray  # codes
    sub_account: np.ndarray  # each subscription's account id
    kind: np.ndarray
    month: np.ndarray
    before: np.ndarray
    after: np.ndarray
    initial: np.ndarray  # per subscription: MRR before its first row

    @classmethod
    def read(cls, changes: pd.DataFrame) -> _Ledger | None:
        require_frame(changes, "changes", CHANGE_COLUMNS)
        if changes.empty:
            return None
        account = ids(changes, "changes", "account_id").to_numpy()
        sub_codes, _ = pd.factorize(ids(changes, "changes", "subscription_id"))
        day = days(changes, "changes", "effective_date")
        before = amounts(changes, "changes", "mrr_before", what="an MRR")
        after = amounts(changes, "changes", "mrr_after", what="an MRR")
        kind = changes["kind"].astype(str).str.strip().str.lower().to_numpy()
        starts_from_zero = np.isin(kind, ("new", "reactivation"))
        checks = (
            ("kind", ~np.isin(kind, CHANGE_KINDS), f"must be one of {', '.join(CHANGE_KINDS)}"),
            (
                "mrr_before",
                starts_from_zero & (before > _CENT),
                "a new or reactivated subscription starts from 0 MRR",
            ),
            ("mrr_after", (kind == "churn") & (after > _CENT), "a churned subscription ends at 0 MRR"),
            ("mrr_after", (kind == "expansion") & (after < before - _CENT), "an expansion cannot lower MRR"),
            (
                "mrr_after",
                (kind == "contraction") & (after > before + _CENT),
                "a contraction cannot raise MRR",
            ),
        )
        for column, bad, reason in checks:
            refuse(changes, "changes", column, bad, reason)

        order = np.lexsort((np.arange(len(day)), day, sub_codes))
        sub, acc = sub_codes[order], account[order]
        same_sub = sub[1:] == sub[:-1]
        moved = same_sub & (acc[1:] != acc[:-1])
        if moved.any():
            i = int(np.flatnonzero(moved)[0]) + 1
            refuse(
                changes,
                "changes",
                "account_id",
                order[i],
                f"subscription {changes['subscription_id'].iloc[order[i]]} belongs to account {acc[i - 1]} in an earlier row",
            )
        broken = same_sub & (np.abs(before[order][1:] - after[order][:-1]) > _CENT)
        if broken.any():
            i = int(np.flatnonzero(broken)[0]) + 1
            previous = changes.index[order[i - 1]]
            refuse(
                changes,
                "changes",
                "mrr_before",
                order[i],
                f"does not follow row {previous}, which left this subscription at {after[order][i - 1]}; the ledger must chain",
            )
        first_row = np.concatenate([[True], ~same_sub])
        n_subs = int(sub.max()) + 1
        initial = np.zeros(n_subs)
        initial[sub[first_row]] = before[order][first_row]
        sub_account = np.empty(n_subs, dtype=object)
        sub_account[sub] = acc
        month = day[order].astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
        return cls(acc, sub, sub_account, kind[order], month, before[order], after[order], initial)

    def month_range(self, start, end) -> tuple[int, int]:
        first = int(self.month.min()) if start is None else as_month(start, "start")
        last = int(self.month.max()) if end is None else as_month(end, "end")
        if last < first:
            raise AnalyticsInputError("end", end, "is before the first change")
        return first, last

    def subscription_grid(self, span: tuple[int, int]) -> np.ndarray:
        """MRR of each subscription at the end of each month of ``span``."""
        width = span[1] - span[0] + 1
        grid = np.full((len(self.initial), width), np.nan)
        column = self.month - span[0]
        # rows are sorted by subscription then day: a month's state is its last row's mrr_after
        last = np.append(
            (self.subscription[1:] != self.subscription[:-1]) | (column[1:] != column[:-1]), True
        )
        last &= column < width
        grid[self.subscription[last], column[last]] = self.after[last]
        grid = pd.DataFrame(grid).ffill(axis=1).to_numpy()
        return np.where(np.isnan(grid), self.initial[:, None], grid)

    def account_grid(self, span: tuple[int, int]) -> _Grid:
        states = self.subscription_grid(span)
        codes, accounts = pd.factorize(self.sub_account, sort=True)
        summed = np.zeros((len(accounts), states.shape[1]))
        np.add.at(summed, codes, states)
        return _Grid(pd.Index(accounts, name="account_id"), span[0], summed)
