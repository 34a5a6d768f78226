"""Product usage of the demo company, drawn from the world's latent state (pure numpy/pandas).

Per account and day: how many of its seats were active (a binomial draw around the account's
engagement × its lifecycle level × weekday and holiday factors), and how often each adopted
feature was used. History comes out as the daily rollups themselves (UsageDaily,
UsageFeatureDaily, UsageDailyUser); the last days come out as raw events, which the simulator
stores through clm.usage.services so their rollups are computed from them.

Each event stands for a session with a feature (its duration is the time spent); every active
user also logs in once a day, so a day's events = active users + feature sessions — exactly what
the rollups of raw events add up to."""

from __future__ import annotations

import numpy as np
import pandas as pd

from clm.demo import names as P
from clm.demo.base import NEVER, holiday_days
from clm.demo.world import DECLINE_SHAPE, World

FEATURES = [f[0] for f in P.FEATURES]
CORE = np.array([f[2] for f in P.FEATURES])
RATE = np.array([f[3] for f in P.FEATURES])
MINUTES = np.array([f[4] for f in P.FEATURES])
ADDON = [f[5] for f in P.FEATURES]
EVENT = np.array([P.EVENT_NAMES[f] for f in FEATURES], dtype=object)
USER_KEYS = np.array([f"u{j:03d}" for j in range(1, 1001)], dtype=object)  # seats stay below 1000
ROWS_PER_CHUNK = 300_000
KEY = 1 << 20  # account * KEY + day sorts by account, then day


class UsageModel:
    def __init__(self, world: World):
        self.w = w = world
        r = w.rng("usage-adoption")
        N, F = w.N, len(FEATURES)
        core_p = np.clip(0.35 + 0.6 * w.engagement, 0, 0.97) * np.where(w.low_adoption, 0.6, 1.0)
        adopt = np.zeros((N, F), dtype=bool)
        for f, key in enumerate(FEATURES):
            if CORE[f]:
                adopt[:, f] = r.random(N) < core_p
            elif ADDON[f]:
                adopt[:, f] = True  # gated by the add-on's contract below
            else:
                base = {"docs": 0.35, "mobile_checkin": 0.3, "export": 0.3}[key]
                field = np.isin(w.industry, ["制造业", "物流", "零售"]) & (key == "mobile_checkin")
                adopt[:, f] = r.random(N) < base + 0.3 * field
        none = ~adopt[:, CORE].any(axis=1)
        adopt[none, FEATURES.index("approval_flow")] = True
        self.adopt = adopt
        self.intensity = r.lognormal(0, 0.4, (N, F))
        self.p0 = w.p0 * np.where(w.low_adoption, 0.5, 1.0)
        # features that come with an add-on are used only while its contract runs
        self.addon_from = np.where(np.array([bool(x) for x in ADDON]), NEVER, 0) * np.ones(
            (N, 1), dtype=np.int64
        )
        self.addon_to = np.full((N, F), NEVER, dtype=np.int64)
        for account, feature, start, end in w.addon_spans:
            f = FEATURES.index(feature)
            self.addon_from[account, f], self.addon_to[account, f] = start, end
        sp = pd.DataFrame(w.seat_points, columns=["account", "day", "seats"]).sort_values(
            ["account", "day"], kind="stable"
        )
        self.seat_keys = sp["account"].to_numpy(np.int64) * KEY + sp["day"].to_numpy(np.int64)
        self.seat_values = sp["seats"].to_numpy(np.int64)
        self.holidays = holiday_days(w.S, w.E)
        self.segments = w.segment_frame()
        self.history_to = max(w.S, w.raw_from)

    def chunks(self, lo: int, hi: int, only=None):
        """Account ranges whose product-use days in [lo, hi) come to about ROWS_PER_CHUNK each
        (of the accounts ``only``, when given)."""
        seg = self.segments if only is None else self.segments[self.segments["account"].isin(only)]
        days = (np.minimum(seg["end"], hi) - np.maximum(seg["start"], lo)).clip(lower=0)
        per_account = days.groupby(seg["account"]).sum()
        per_account = per_account[per_account > 0]
        if per_account.empty:
            return []
        group = (per_account.cumsum() // ROWS_PER_CHUNK).to_numpy()
        accounts = per_account.index.to_numpy()
        return [accounts[group == g] for g in np.unique(group)]

    def day_rows(self, accounts: np.ndarray, lo: int, hi: int, r: np.random.Generator):
        """For the accounts' days of product use in [lo, hi): account, day, active users, and per
        feature the sessions and minutes (rows with nobody active are dropped)."""
        w = self.w
        seg = self.segments[self.segments["account"].isin(accounts)]
        start = np.maximum(seg["start"].to_numpy(), lo)
        end = np.minimum(seg["end"].to_numpy(), hi)
        keep = end > start
        start, end = start[keep], end[keep]
        origin, acct = seg["origin"].to_numpy()[keep], seg["account"].to_numpy()[keep]
        length = end - start
        total = int(length.sum())
        a = np.repeat(acct, length)
        d = np.repeat(start, length) + np.arange(total) - np.repeat(np.cumsum(length) - length, length)
        o = np.repeat(origin, length)
        level = w.level(a, d, o)
        weekday = (d + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
        factor = np.where(weekday < 5, 1.0, np.where(weekday == 5, 0.12, 0.06))
        factor = np.where(np.isin(d, self.holidays) & ~w.intl[a], 0.1, factor)
        p = np.clip(self.p0[a] * level * factor * r.lognormal(0, 0.3, total), 0, 0.97)
        idx = np.searchsorted(self.seat_keys, a * KEY + d, side="right") - 1
        seats = self.seat_values[idx]
        users = r.binomial(seats, p)
        on = users > 0
        a, d, o, users = a[on], d[on], o[on], users[on]
        # core features fade faster than logins when a customer declines
        f = np.where(o < w.decline_to[a], w.decline_progress(a, d), 0.0)
        decline = 1 - w.decline_depth[a] * f**DECLINE_SHAPE
        gate = self.adopt[a] & (d[:, None] >= self.addon_from[a]) & (d[:, None] < self.addon_to[a])
        lam = users[:, None] * RATE * self.intensity[a] * gate * np.where(CORE, decline[:, None] ** 0.8, 1.0)
        sessions = r.poisson(lam)
        minutes = np.where(sessions > 0, r.gamma(3 * np.maximum(sessions, 1), 1 / 3) * MINUTES, 0.0)
        return a, d, users, sessions, np.round(minutes, 2)

    def history(self, only=None, since: int | None = None, stream: str = "usage"):
        """Daily rollups for the days before the raw-event window, chunk by chunk: two frames
        (daily, feature_daily) with local account numbers. A day's active users are u001…uNNN
        (see clm.demo.writer.expand_daily_users), as in the raw events. ``only`` and ``since``
        draw the usage of some accounts from a day on again, from their own ``stream``."""
        w = self.w
        lo = w.S if since is None else max(w.S, since)
        for n, accounts in enumerate(self.chunks(lo, self.history_to, only)):
            r = w.rng(f"{stream}-history-{n}")
            a, d, users, sessions, minutes = self.day_rows(accounts, lo, self.history_to, r)
            daily = pd.DataFrame(
                {
                    "account_id": a,
                    "day": d,
                    "events": users + sessions.sum(axis=1),
                    "active_users": users,
                    "minutes": np.round(minutes.sum(axis=1), 2),
                }
            )
            row, feat = np.nonzero(sessions)
            feature = pd.DataFrame(
                {
                    "account_id": a[row],
                    "day": d[row],
                    "feature": np.array(FEATURES, dtype=object)[feat],
                    "events": sessions[row, feat],
                    "minutes": minutes[row, feat],
                }
            )
            yield daily, feature

    def raw_events(self, only=None, since: int | None = None, stream: str = "usage"):
        """Raw events for the last days, chunk by chunk: a frame per chunk with local account
        numbers, occurred_at in UTC seconds, and everything else store_events needs (``only``,
        ``since`` and ``stream`` as for history)."""
        w = self.w
        lo = self.history_to if since is None else max(self.history_to, since)
        for n, accounts in enumerate(self.chunks(lo, w.E + 1, only)):
            r = w.rng(f"{stream}-events-{n}")
            a, d, users, sessions, _ = self.day_rows(accounts, lo, w.E + 1, r)
            local_midnight = d * 86400 - w.spec.utc_offset_hours * 3600
            # one login per active user in the morning
            j = np.arange(users.sum()) - np.repeat(np.cumsum(users) - users, users)
            login = pd.DataFrame({
                "account": np.repeat(a, users), "day": np.repeat(d, users), "user_key": USER_KEYS[j],
                "event": "login", "feature": "",
                "occurred_at": np.repeat(local_midnight, users) + r.integers(8 * 3600, 11 * 3600, j.size),
                "duration_seconds": 0.0,
            })  # fmt: skip
            # feature sessions through the working day, each by one of the day's active users
            row, feat = np.nonzero(sessions)
            count = sessions[row, feat]
            row, feat = np.repeat(row, count), np.repeat(feat, count)
            k = row.size
            who = (r.random(k) * users[row]).astype(np.int64)
            use = pd.DataFrame({
                "account": a[row], "day": d[row], "user_key": USER_KEYS[who], "event": EVENT[feat],
                "feature": np.array(FEATURES, dtype=object)[feat],
                "occurred_at": local_midnight[row] + r.integers(int(8.5 * 3600), 20 * 3600, k),
                "duration_seconds": np.round(r.gamma(3.0, 1 / 3, k) * MINUTES[feat] * 60, 1),
            })  # fmt: skip
            events = pd.concat([login, use], ignore_index=True).sort_values(
                ["account", "occurred_at"], kind="stable", ignore_index=True
            )
            # zero-padded, so the keys sort in the order the events are written (cheap index appends)
            events["idempotency_key"] = [
                f"demo:{w.spec.seed}:{acc:07d}:{day}:{m:05d}"
                for acc, day, m in zip(
                    events["account"],
                    events["day"],
                    events.groupby(["account", "day"]).cumcount(),
                    strict=True,
                )
            ]
            yield events
