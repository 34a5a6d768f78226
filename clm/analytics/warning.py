"""Early-warning signals (预警): rules as data that flag accounts slipping towards churn, and the
bookkeeping that keeps one open signal per kind per account.

Each signal has a kind, a title, parameters and a condition over per-account metrics that names
those parameters (``{"param": "drop"}``), so "logins −50%" is tuned by editing ``drop``. The
goal (DESIGN.md, seed 提前3个月) is to flag accounts at least 90 days before they churn.

A signal's severity is ``risk`` (it can make a churn warning) or ``watch`` (shown and acted
on, but not a churn flag by itself: a late payment or a burst of tickets happens to healthy
customers too). A risk signal is confirmed once it has held for its ``confirm_days`` (the set's
unless the signal sets its own: a dip that recovers within the week is noise, not a warning),
and the warning lifts when no risk signal fires any more.

The rules and the learned churn model work together: ``churn_risk_high`` fires when the model's
predicted risk is above the threshold chosen on the training history (out-of-fold predictions)
for a target precision, and stays open until the risk falls below a lower threshold
(hysteresis, the signal's ``while``); the usage rules fire only where the model, when there is
one, sees at least part of that risk. The warning level grows with the evidence
(:func:`warning_levels`); the early warning flags (:func:`flags`) level 3 only: with a model, its
risk confirmed or corroborated by the rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

import pandas as pd

from .conditions import Rule, RuleError, bind, compile_rule, describe, json_records, leaf, param

KEYS = ["account", "kind"]
SEVERITIES = ("risk", "watch")
SIGNAL_KEYS = ("kind", "title", "severity", "params", "when", "while", "confirm_days")


class SignalError(RuleError):
    """A signal definition that cannot be saved; the message names the place in it."""

    root = "signal set"


@dataclass(frozen=True)
class Signal:
    kind: str
    title: str
    params: Mapping
    when: Mapping
    compiled: Rule
    severity: str = "risk"
    confirm_days: int | None = None  # None: the set's
    # hysteresis: an open signal keeps firing while this holds, though ``when`` no longer does
    # (None: it closes as soon as ``when`` stops holding)
    hold: Mapping | None = None
    compiled_hold: Rule | None = None

    def to_dict(self) -> dict:
        out = {
            "kind": self.kind,
            "title": self.title,
            "severity": self.severity,
            "params": dict(self.params),
            "when": self.when,
        }
        if self.hold is not None:
            out["while"] = self.hold
        return out if self.confirm_days is None else {**out, "confirm_days": self.confirm_days}


@dataclass(frozen=True)
class SignalSet:
    signals: tuple[Signal, ...]
    confirm_days: int = 0

    @classmethod
    def from_dict(cls, data) -> SignalSet:
        if not isinstance(data, Mapping) or "signals" not in data or set(data) - {"signals", "confirm_days"}:
            raise SignalError(
                "",
                "expected an object with 'signals' (a list of signal definitions) and optionally 'confirm_days'",
            )
        confirm_days = _days(data.get("confirm_days", 0), "confirm_days")
        raw = data["signals"]
        if not isinstance(raw, list) or not raw:
            raise SignalError("signals", "expected a non-empty list of signal definitions")
        signals: list[Signal] = []
        for i, item in enumerate(raw):
            path = f"signals[{i}]"
            if not isinstance(item, Mapping):
                raise SignalError(path, "expected an object with kind, title, params and when")
            extra = sorted(str(k) for k in item if k not in SIGNAL_KEYS)
            if extra:
                raise SignalError(f"{path}.{extra[0]}", f"unknown key (expected {', '.join(SIGNAL_KEYS)})")
            severity = item.get("severity", "risk")
            if severity not in SEVERITIES:
                raise SignalError(f"{path}.severity", f"expected risk or watch, got {severity!r}")
            kind = item.get("kind")
            if not isinstance(kind, str) or not kind:
                raise SignalError(f"{path}.kind", "a signal needs a kind (its stored name)")
            if kind in (s.kind for s in signals):
                raise SignalError(f"{path}.kind", f"two signals are of kind {kind!r}")
            title = item.get("title", kind)
            if not isinstance(title, str):
                raise SignalError(f"{path}.title", f"expected a text, got {title!r}")
            params = item.get("params", {})
            if not isinstance(params, Mapping):
                raise SignalError(f"{path}.params", "expected an object of parameter values")
            for key, value in params.items():
                if isinstance(value, bool) or not isinstance(value, int | float | str):
                    raise SignalError(
                        f"{path}.params.{key}", f"a parameter is a number or a text, got {value!r}"
                    )
            if "when" not in item:
                raise SignalError(path, "a signal needs a 'when' condition")
            try:
                compiled = compile_rule(bind(item["when"], params))
            except RuleError as error:
                raise SignalError(error.within(f"{path}.when").path, error.reason) from None
            hold, compiled_hold = item.get("while"), None
            if hold is not None:
                try:
                    compiled_hold = compile_rule(bind(hold, params))
                except RuleError as error:
                    raise SignalError(error.within(f"{path}.while").path, error.reason) from None
            own = item.get("confirm_days")
            own = None if own is None else _days(own, f"{path}.confirm_days")
            signals.append(
                Signal(kind, title, dict(params), item["when"], compiled, severity, own, hold, compiled_hold)
            )
        return cls(tuple(signals), confirm_days)

    def to_dict(self) -> dict:
        return {"confirm_days": self.confirm_days, "signals": [s.to_dict() for s in self.signals]}

    def confirm_days_of(self, kind: str) -> int:
        """How long a signal of ``kind`` must hold before it flags (the set's when it has none)."""
        own = next((s.confirm_days for s in self.signals if s.kind == kind), None)
        return self.confirm_days if own is None else own

    @property
    def risk_kinds(self) -> list[str]:
        return [s.kind for s in self.signals if s.severity == "risk"]

    @property
    def kinds(self) -> list[str]:
        return [s.kind for s in self.signals]

    def metrics(self) -> list[str]:
        rules = [r for s in self.signals for r in (s.compiled, s.compiled_hold) if r is not None]
        return list(dict.fromkeys(m for r in rules for m in r.metrics))

    def validate(self, known_metrics) -> None:
        """Refuse signals that read a metric the metrics layer does not produce."""
        for i, signal in enumerate(self.signals):
            for key, rule in (("when", signal.compiled), ("while", signal.compiled_hold)):
                if rule is None:
                    continue
                try:
                    compile_rule(rule.rule, known_metrics)
                except RuleError as error:
                    raise SignalError(error.within(f"signals[{i}].{key}").path, error.reason) from None

    def evaluate(self, metrics: pd.DataFrame, open_signals: pd.DataFrame | None = None) -> pd.DataFrame:
        """One row per (account, signal) that fires: account, kind, title, severity, description
        (the rule with its parameters filled in) and values (what it saw, JSON-ready).
        ``open_signals`` (columns account, kind): the signals open before; one with a ``while``
        condition keeps firing while that holds."""
        parts = []
        for signal in self.signals:
            hit = signal.compiled.matches(metrics).to_numpy()
            if signal.compiled_hold is not None and open_signals is not None and len(open_signals):
                held_open = open_signals.loc[open_signals["kind"] == signal.kind, "account"]
                hit = hit | (metrics.index.isin(held_open) & signal.compiled_hold.matches(metrics).to_numpy())
            rows = metrics.index[hit]
            if len(rows):
                parts.append(
                    pd.DataFrame(
                        {
                            "account": rows,
                            "kind": signal.kind,
                            "title": signal.title,
                            "severity": signal.severity,
                            "description": describe(signal.compiled.rule),
                            "values": json_records(metrics.loc[rows], signal.compiled.metrics).to_numpy(),
                        }
                    )
                )
        if not parts:
            return pd.DataFrame(
                {
                    c: pd.Series(dtype=object)
                    for c in ("account", "kind", "title", "severity", "description", "values")
                }
            )
        return pd.concat(parts, ignore_index=True)


def _days(value, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 365:
        raise SignalError(path, f"a whole number of days from 0 to 365, got {value!r}")
    return value


def firing_counts(firing: pd.DataFrame, index) -> pd.Series:
    """How many signals fire per account (0 for accounts with none): the stage rules' ``signals_firing``."""
    return firing.groupby("account").size().reindex(index, fill_value=0).astype(int)


def confirmed(firing: pd.DataFrame, open_since: pd.DataFrame, as_of, signals: SignalSet) -> pd.DataFrame:
    """The risk signals that fire and have held for their confirm_days (columns account, kind):
    the early warning's flags. ``open_since``: the signals open before today (columns account,
    kind, opened_on); a signal firing for the first time today opened today."""
    risk = firing[firing["severity"] == "risk"][KEYS]
    if open_since.empty:  # an empty frame's columns have no type to join on
        since = risk.assign(opened_on=pd.NaT)
    else:
        since = risk.merge(open_since[[*KEYS, "opened_on"]], on=KEYS, how="left")
    opened = pd.to_datetime(since["opened_on"]).fillna(pd.Timestamp(as_of))
    needed = since["kind"].map({s.kind: signals.confirm_days_of(s.kind) for s in signals.signals})
    held = (pd.Timestamp(as_of) - opened).dt.days >= needed
    return since.loc[held.to_numpy(), KEYS]


def confirmed_counts(
    firing: pd.DataFrame, open_since: pd.DataFrame, as_of, signals: SignalSet, index
) -> pd.Series:
    """How many risk signals per account fire and have held for their confirm_days
    (``signals_confirmed``)."""
    held = confirmed(firing, open_since, as_of, signals)
    return held.groupby("account").size().reindex(index, fill_value=0).astype(int)


# The warning level of an account: 0 nothing fires; 1 watch (signals fire, none is a confirmed
# risk); 2 watch closely (a confirmed risk signal the evidence does not back: shown, not a flag);
# 3 churn warning (the early warning flags the account; see warning_levels).
LEVELS = {0: "none", 1: "watch", 2: "at_risk", 3: "high"}
FLAG_LEVEL = 3
CORROBORATION = 2
MODEL_SIGNAL = "churn_risk_high"  # the churn model's own signal: its risk above the flag threshold


def warning_levels(
    firing_count: pd.Series,
    confirmed_count: pd.Series,
    risk_over_threshold: pd.Series,
    model_firing: pd.Series | None = None,
    model_confirmed: pd.Series | None = None,
) -> pd.Series:
    """Per account, the warning level (LEVELS) from the signals firing, the confirmed risk
    signals, the churn risk relative to its flag threshold (missing without a model) and, of
    those, whether the model's own signal (MODEL_SIGNAL) fires and is confirmed.

    Level 3, the churn warning, with a churn model: the model's risk above its threshold,
    confirmed (held for its confirm_days: two consecutive weekly scorings) or corroborated by a
    confirmed rule; or a confirmed risk signal corroborated by CORROBORATION more signals firing,
    or by a risk twice the threshold. Without a model the rules stand alone: every confirmed risk
    signal is a churn warning. Level 2 is a confirmed risk signal nothing backs, with a model:
    shown (watch closely), not flagged; single confirmed signals made most false alarms."""
    index = firing_count.index
    no = pd.Series(0, index=index)
    model_firing = no if model_firing is None else model_firing.reindex(index, fill_value=0)
    model_confirmed = no if model_confirmed is None else model_confirmed.reindex(index, fill_value=0)
    with_model = risk_over_threshold.reindex(index).notna()
    level = (firing_count > 0).astype(int)
    level = level.where(confirmed_count == 0, 2)
    strong = (firing_count - confirmed_count >= CORROBORATION) | (risk_over_threshold.fillna(0) >= 2)
    model_led = (model_confirmed > 0) | ((model_firing > 0) & (confirmed_count - model_confirmed > 0))
    warned = ((confirmed_count > 0) & (strong | ~with_model)) | model_led
    return level.where(~warned, FLAG_LEVEL).astype(int)


def without_churn_warning_when_dormant(level: pd.Series, stage: pd.Series, order_based: pd.Series) -> pd.Series:
    """An order-based account (no contract, ever) that is dormant (沉睡: no purchase and no usage
    for the rule set's dormant days) has already lapsed: it is woken, not warned as if a
    subscription were about to churn (DESIGN.md: at risk is a stage of active customers; dormant
    customers are the reactivation worklist's). Its signals stay open and visible, so it keeps
    at most the level watch."""
    dormant = (stage.reindex(level.index) == "dormant") & order_based.reindex(level.index).fillna(False).astype(bool)
    return level.where(~dormant, level.clip(upper=1)).astype(int)


def flags(level: pd.Series) -> pd.Series:
    """Per account, whether the early warning flags it (the churn warning a CSM acts on): level 3.

    Replayed weekly on simulated companies of 1,000 accounts over 30 months, the model trained
    as of 2025-12-01 and judged on the weeks after it (seeds 5151, 6262 and 8383, none used to
    choose anything), since the threshold is chosen on the scale the model scores on and logins
    are read against their peak: per-account precision 0.68, 0.79, 0.91 → 0.55, 0.61, 0.68;
    recall of churners flagged 90 days ahead 0.45, 0.34, 0.39 → 0.57, 0.61, 0.56 (53–61 churners
    each: ±0.13 at 95%). The precision goal (0.50) holds; the recall goal (0.70) does not, and a
    model fitted on the judged period's own outcomes reaches 0.57–0.68 at precision 0.5
    (bench/bench_warning_evidence.py)."""
    return level >= FLAG_LEVEL


def warning_evidence(
    level: pd.Series, firing: pd.DataFrame, held: pd.DataFrame, churn_risk: pd.Series, threshold: float | None
) -> pd.Series:
    """Per account with a warning (level ≥ 1), what the level rests on, JSON-ready: ``firing``
    (the kinds of the signals firing), ``confirmed`` (the risk signals among them that held for
    their confirm_days), ``churn_risk`` and ``threshold`` (the model's risk and its flag
    threshold; None without a model). ``held``: :func:`confirmed`'s output."""
    warned = level.index[(level > 0).to_numpy()]
    fired = firing.groupby("account")["kind"].agg(list) if len(firing) else pd.Series(dtype=object)
    sure = held.groupby("account")["kind"].agg(list) if len(held) else pd.Series(dtype=object)
    records = []
    for account in warned:
        risk = churn_risk.get(account)
        records.append(
            {
                "firing": list(fired.get(account, [])),
                "confirmed": list(sure.get(account, [])),
                "churn_risk": None if risk is None or pd.isna(risk) else round(float(risk), 4),
                "threshold": None if threshold is None else round(float(threshold), 4),
            }
        )
    return pd.Series(records, index=warned, dtype=object)


class Reconciliation(NamedTuple):
    open: pd.DataFrame  # firing today and not open yet: open these
    keep: pd.DataFrame  # open and still firing: keep open (today's values in the firing columns)
    close: pd.DataFrame  # open but no longer firing ("cleared"), or a second open one of a kind ("duplicate")


def reconcile(open_signals: pd.DataFrame, firing: pd.DataFrame, evaluated_accounts=None) -> Reconciliation:
    """Which signals to open, keep and close after today's run.

    ``open_signals``: the signals open now (columns account, kind, and any others, e.g. an id).
    ``firing``: today's :meth:`SignalSet.evaluate`. ``evaluated_accounts``: the accounts today's
    run covered; open signals of accounts outside it are kept as they are (absent data does not
    clear a signal). One open signal per kind per account: extra open copies are closed.
    """
    for name, frame in (("open_signals", open_signals), ("firing", firing)):
        missing = [c for c in KEYS if c not in frame.columns]
        if missing:
            raise ValueError(f"{name} needs columns account and kind (missing: {', '.join(missing)})")
    firing = firing.drop_duplicates(KEYS)
    duplicated = open_signals.duplicated(KEYS)
    unique_open = open_signals[~duplicated]
    duplicates = open_signals[duplicated].assign(reason="duplicate")

    flagged = unique_open.merge(firing[KEYS], on=KEYS, how="left", indicator=True)
    still_firing = (flagged["_merge"] == "both").to_numpy()
    keep_cols = [c for c in firing.columns if c not in unique_open.columns or c in KEYS]
    keep = unique_open[still_firing].merge(firing[keep_cols], on=KEYS, how="left")
    cleared = unique_open[~still_firing]
    if evaluated_accounts is not None:
        cleared = cleared[cleared["account"].isin(pd.Index(evaluated_accounts))]
    close = pd.concat([cleared.assign(reason="cleared"), duplicates], ignore_index=True)

    new = firing.merge(unique_open[KEYS], on=KEYS, how="left", indicator=True)
    new = new[new["_merge"] == "left_only"].drop(columns="_merge").reset_index(drop=True)
    return Reconciliation(new, keep.reset_index(drop=True), close)


# -- the default signals (DESIGN.md "Early warning") --------------------------------------------


def _model_agrees() -> dict:
    """A usage rule flags only where the churn model, when there is one, sees at least
    ``model_agrees`` of its flag threshold: a usage drop the model finds typical of customers who
    stay (a seasonal lull, a team on leave) is not a warning by itself."""
    return {
        "any": [
            leaf("churn_risk_over_threshold", "is_null"),
            leaf("churn_risk_over_threshold", ">=", param("model_agrees")),
        ]
    }


DEFAULT_SIGNALS_DATA: dict = {
    # Tuned by backtest on the demo company (clm backtest; see tests/lifecycle/test_demo_company.py):
    # a risk signal counts once it has held for a week; single-week dips are mostly noise.
    "confirm_days": 7,
    "signals": [
        {
            "kind": "churn_risk_high",
            "title": "The churn model puts the risk above its flag threshold",
            "severity": "risk",
            # level 1: the threshold chosen when the model was trained, for its target precision
            # (on out-of-fold predictions); a week above it, i.e. two weekly scorings in a row: a
            # risk that holds, not one bad snapshot. It closes only once the risk falls below
            # ``lift`` of the threshold (hysteresis: a risk wavering about the threshold does not
            # raise and lift the flag week after week).
            "params": {"level": 1.0, "lift": 0.8},
            "confirm_days": 7,
            "when": leaf("churn_risk_over_threshold", ">=", param("level")),
            "while": leaf("churn_risk_over_threshold", ">=", param("lift")),
        },
        {
            "kind": "login_drop",
            "title": "Logins fell by half against the account's own baseline",
            "severity": "risk",
            # min_baseline: a drop from 1 login to 0 is noise, not a signal
            "params": {"drop": -0.5, "min_baseline": 4, "model_agrees": 0.75},
            "when": {
                "all": [
                    leaf("logins_30d_vs_baseline", "<=", param("drop")),
                    leaf("logins_baseline_30d", ">=", param("min_baseline")),
                    _model_agrees(),
                ]
            },
        },
        {
            "kind": "core_usage_falling",
            "title": "Time in core features is falling",
            "severity": "watch",
            "params": {"drop": -0.3, "min_baseline_minutes": 60},
            "when": {
                "all": [
                    leaf("core_minutes_30d_vs_baseline", "<=", param("drop")),
                    leaf("core_minutes_baseline_30d", ">=", param("min_baseline_minutes")),
                ]
            },
        },
        {
            "kind": "key_contact_left",
            "title": "A key contact or champion left",
            "severity": "watch",
            "params": {"left": 1},
            "when": leaf("key_contacts_left_90d", ">=", param("left")),
        },
        {
            "kind": "tickets_rising",
            "title": "Tickets or complaints are rising",
            "severity": "watch",
            "params": {"rise": 1.0, "min_tickets": 3, "complaints": 2},
            "when": {
                "any": [
                    {
                        "all": [
                            leaf("tickets_30d", ">=", param("min_tickets")),
                            # no tickets in the baseline: any burst of min_tickets is a rise
                            {
                                "any": [
                                    leaf("tickets_30d_vs_baseline", ">=", param("rise")),
                                    leaf("tickets_30d_vs_baseline", "is_null"),
                                ]
                            },
                        ]
                    },
                    leaf("complaints_90d", ">=", param("complaints")),
                ]
            },
        },
        {
            "kind": "overdue_payment",
            "title": "A payment is overdue",
            "severity": "watch",
            "params": {"days": 15},
            "when": leaf("overdue_days_max", ">=", param("days")),
        },
        {
            "kind": "no_reply_before_renewal",
            "title": "No reply from the customer with a renewal coming up",
            "severity": "watch",
            "params": {"renewal_within_days": 90, "silent_days": 30},
            "when": {
                "all": [
                    leaf("days_to_renewal", "between", [0, param("renewal_within_days")]),
                    {
                        "any": [
                            leaf("days_since_customer_reply", ">=", param("silent_days")),
                            leaf("days_since_customer_reply", "is_null"),
                        ]
                    },
                ]
            },
        },
        {
            "kind": "health_red",
            "title": "Health score is red",
            "severity": "risk",
            "params": {"model_agrees": 0.75},
            "when": {"all": [leaf("health_band", "==", "red"), _model_agrees()]},
        },
        {
            "kind": "usage_decline",
            "title": "Usage is declining: logins and core-feature time both down on the account's own baseline",
            "severity": "risk",
            "params": {"logins": -0.15, "core_minutes": -0.3, "min_baseline": 4, "model_agrees": 0.75},
            "when": {
                "all": [
                    leaf("logins_30d_vs_baseline", "<=", param("logins")),
                    leaf("core_minutes_30d_vs_baseline", "<=", param("core_minutes")),
                    leaf("logins_baseline_30d", ">=", param("min_baseline")),
                    _model_agrees(),
                ]
            },
        },
    ],
}

DEFAULT_SIGNALS = SignalSet.from_dict(DEFAULT_SIGNALS_DATA)
