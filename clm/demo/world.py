"""The demo company's world, drawn from a seed: who the customers are, their latent propensities,
and what happened to each — contracts, orders, payments, the sales funnel, people, tickets,
surveys and conversations — as plain data frames keyed by local row numbers.

Pure numpy/pandas (no Django): clm.demo.simulator writes the frames, clm.demo.usage draws the
product usage from the same latent state. The accounts and their latent state are drawn here;
the money side (contracts, orders, payments, opportunities) in clm.demo.contracts, the people and
conversations in clm.demo.activity, both mixins of World. Days are integers (days since
1970-01-01) and timestamps integer seconds (UTC); -1 means "none".

The story each account lives out is decided first (its archetype, contract path, churn date and
cause, dormancy, return), and every observable is drawn from it, so the signals precede the
outcomes as they do in life: before a churn, usage decays for months, the champion often leaves,
tickets and complaints rise, NPS falls and invoices are paid late."""

import datetime as dt
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from clm.demo import names as P
from clm.demo.activity import Activity
from clm.demo.base import NEVER, add_months, day_number, iso, quotas, stream, to_date, weights
from clm.demo.billing import Billing
from clm.demo.contracts import Contract, Contracts

COHORTS = {  # share of accounts; base_* were customers before the simulated period began
    "base_sub": 0.33,
    "base_txn": 0.06,
    "lapsed": 0.05,
    "new_sub": 0.33,
    "new_txn": 0.07,
    "prospect": 0.16,
}


# How usage falls over a decline (progress f from 0 to 1): f**shape. Below 1 the fall shows early
# and slows near the end, as disengagement does when a champion leaves or a competitor is trialled;
# above 1 usage would hold up until the last weeks and leave nothing to warn on months ahead.
DECLINE_SHAPE = 0.7

# How fast a declining account recovers once a play has saved it (clm.demo.plays): what is left of
# its decline shrinks by e every RECOVERY_DAYS, as usage comes back over a quarter or so.
RECOVERY_DAYS = 45


@dataclass(frozen=True)
class Spec:
    accounts: int
    months: int
    seed: int
    as_of: dt.date
    raw_event_days: int = 30
    utc_offset_hours: int = 8  # the workspace's time zone (Asia/Shanghai): business hours are local

    @property
    def sales_reps(self) -> int:
        return max(5, round(self.accounts / 120))

    @property
    def csms(self) -> int:
        return max(3, round(self.accounts / 150))


class World(Contracts, Billing, Activity):
    def __init__(self, spec: Spec):
        self.spec = spec
        self.N = spec.accounts
        self.E = day_number(spec.as_of)
        self.S = add_months(self.E + 1, -spec.months)
        self.raw_from = self.E - spec.raw_event_days + 1
        self.contracts: list[Contract] = []
        self.changes: list[tuple] = []
        self.orders: list[tuple] = []
        self.lines: list[tuple] = []
        self.opps: list[tuple] = []
        self.stage_rows: list[tuple] = []
        self.seat_points: list[tuple] = []
        self.addon_spans: list[tuple] = []  # (account, feature key, start, end)
        self.segments: list[tuple] = []  # (account, origin, end): spans of product use
        self.saved_on = np.full(self.N, NEVER, dtype=np.int64)  # a play averted its churn (clm.demo.plays)
        self.frames: dict[str, pd.DataFrame] = {}

    def rng(self, name: str) -> np.random.Generator:
        return stream(self.spec.seed, name)

    def build(self, progress=None):
        steps = [
            self._staff, self._firmographics, self._propensities, self._paths, self._contacts, self._referrals,
            self._tags, self._account_frame, self._leads, self._channel_spend, self._commerce_frames,
            self._payments, self._opportunity_frames, self._tickets, self._surveys, self._interactions, self._truth,
        ]  # fmt: skip
        for n, step in enumerate(steps):
            step()
            if progress:
                progress((n + 1) / len(steps), step.__name__.strip("_").replace("_", " "))
        return self

    # ---------------------------------------------------------------- helpers
    def ext(self, kind: str, n) -> list[str]:
        return [f"{self.spec.seed}-{kind}{i:06d}" for i in np.asarray(n)]

    def stamp(self, days, rng, lo_hour=9.0, hi_hour=18.0) -> np.ndarray:
        """UTC seconds for local business hours on the given days."""
        days = np.asarray(days, dtype=np.int64)
        secs = (rng.uniform(lo_hour, hi_hour, days.shape) * 3600).astype(np.int64)
        return days * 86400 + secs - self.spec.utc_offset_hours * 3600

    # ---------------------------------------------------------------- staff
    def _staff(self):
        r = self.rng("staff")
        teams = list(P.SALES_TEAMS)
        share = np.array([0.35, 0.3, 0.15, 0.12, 0.08])
        per_team = np.maximum(1, np.round(share * self.spec.sales_reps)).astype(int)
        rows = []
        for team, count in zip(teams, per_team, strict=True):
            for _ in range(count):
                rows.append(("Sales", team))
        for k in range(self.spec.csms):
            rows.append(("CSM", P.CSM_TEAMS[k % len(P.CSM_TEAMS)]))
        rows += [("Marketing", ""), ("Viewer", "")]
        surname = r.choice(len(P.SURNAMES), len(rows), p=weights(P.SURNAME_WEIGHTS))
        given = r.choice(len(P.GIVEN_NAMES), len(rows))
        counters: dict[str, int] = {}
        users = []
        for (role, team), s, g in zip(rows, surname, given, strict=True):
            counters[role] = counters.get(role, 0) + 1
            username = f"{role.lower()}{counters[role]:02d}"
            users.append({
                "username": username, "role": role, "team": team,
                "last_name": P.SURNAMES[s][0], "first_name": P.GIVEN_NAMES[g][0],
                "email": f"{P.GIVEN_NAMES[g][1]}.{P.SURNAMES[s][1]}@yunfan-demo.cn",
            })  # fmt: skip
        self.frames["user"] = pd.DataFrame(users)
        self.sales_team = np.array([u["team"] for u in users if u["role"] == "Sales"], dtype=object)
        self.n_sales = len(self.sales_team)
        self.n_csm = self.spec.csms

    # ---------------------------------------------------------------- accounts
    def _firmographics(self):
        r, N = self.rng("firmographics"), self.N
        intl = r.random(N) < 0.09
        city = r.choice(len(P.CHINA_CITIES), N, p=weights([c[4] for c in P.CHINA_CITIES]))
        icity = r.choice(len(P.INTERNATIONAL_CITIES), N, p=weights([c[4] for c in P.INTERNATIONAL_CITIES]))
        industries = list(P.INDUSTRIES)
        industry = r.choice(len(industries), N, p=weights([v[0] for v in P.INDUSTRIES.values()]))
        employees = np.clip(np.round(r.lognormal(np.log(140), 1.05, N)), 8, 30000).astype(np.int64)
        per_head = np.array([P.INDUSTRIES[industries[k]][1] for k in industry])
        revenue = np.round(employees * per_head * r.lognormal(0, 0.45, N), -4)
        u = r.random(N)
        stage = np.where(
            employees < 60,
            np.where(u < 0.6, "startup", "growth"),
            np.where(employees < 800, np.where(u < 0.65, "growth", np.where(u < 0.9, "mature", "transformation")),
                     np.where(u < 0.2, "growth", np.where(u < 0.8, "mature", "transformation"))),
        )  # fmt: skip
        channel = r.choice(len(P.CHANNELS), N, p=weights(P.CHANNEL_WEIGHTS))

        names, domains, brand_py = [], [], []
        seen_names, seen_domains = set(), set()
        codes = {"制造业": "mfg", "零售": "retail", "医疗": "med", "物流": "wl", "金融": "fin", "教育": "edu",
                 "SaaS/互联网": "tech", "专业服务": "pro"}  # fmt: skip
        for i in range(N):
            ind = industries[industry[i]]
            for attempt in range(30):
                if intl[i]:
                    country, _, suffix, _, _ = P.INTERNATIONAL_CITIES[icity[i]]
                    brand = P.EN_BRANDS[r.integers(len(P.EN_BRANDS))]
                    word = P.INDUSTRIES[ind][3][r.integers(len(P.INDUSTRIES[ind][3]))]
                    middle = (
                        ["", " Asia", " Global", " Group", " Solutions"][r.integers(5)] if attempt else ""
                    )
                    name = (
                        f"PT {brand}{middle} {word}" if suffix == "PT" else f"{brand}{middle} {word} {suffix}"
                    )
                    slug = (brand + word).lower().replace(" ", "")
                    domain = f"{slug}.com" if attempt < 5 else f"{slug}{attempt}.com"
                    py = slug
                else:
                    _, _, _, short, _ = P.CHINA_CITIES[city[i]]
                    brand, py = P.BRANDS[r.integers(len(P.BRANDS))]
                    word = P.INDUSTRIES[ind][2][r.integers(len(P.INDUSTRIES[ind][2]))]
                    if employees[i] > 5000:
                        name = f"{brand}{word}集团有限公司"
                    elif employees[i] > 1000:
                        name = f"{short}{brand}{word}股份有限公司"
                    elif r.random() < 0.25:
                        name = f"{short.rstrip('市')}{brand}{word}"
                    else:
                        name = f"{short}{brand}{word}有限公司"
                    domain = f"{py}{codes[ind]}.com" if attempt < 8 else f"{py}{codes[ind]}{attempt}.com"
                if name not in seen_names and domain not in seen_domains:
                    break
            else:
                name = f"{name}（{i}）"
            seen_names.add(name)
            seen_domains.add(domain)
            names.append(name)
            domains.append(domain)
            brand_py.append(py)

        parent = np.full(N, -1)
        big = np.flatnonzero((employees > 1500) & ~intl)
        if len(big) and N >= 50:
            children = r.choice(
                np.setdiff1d(np.arange(N), big), min(len(big), max(1, N // 60)), replace=False
            )
            for child in children:
                p = big[r.integers(len(big))]
                parent[child] = p
                base = (
                    names[p]
                    .removesuffix("集团有限公司")
                    .removesuffix("股份有限公司")
                    .removesuffix("有限公司")
                )
                names[child] = f"{base}（{P.CHINA_CITIES[city[child]][2]}）分公司"
                domains[child] = domains[p]
                industry[child] = industry[p]
                intl[child] = False

        self.intl, self.industry_idx, self.employees, self.parent = intl, industry, employees, parent
        self.industry = np.array([industries[k] for k in industry], dtype=object)
        self.channel = np.array([P.CHANNELS[k] for k in channel], dtype=object)
        self.domain, self.brand_py, self.names = domains, brand_py, names
        region = np.where(intl, "海外", np.array([P.CHINA_CITIES[k][0] for k in city], dtype=object))
        province = np.where(intl, np.array([P.INTERNATIONAL_CITIES[k][0] for k in icity], dtype=object),
                            np.array([P.CHINA_CITIES[k][1] for k in city], dtype=object))  # fmt: skip
        cityname = np.where(intl, np.array([P.INTERNATIONAL_CITIES[k][1] for k in icity], dtype=object),
                            np.array([P.CHINA_CITIES[k][2] for k in city], dtype=object))  # fmt: skip
        self.region, self.phone_prefix = (
            region,
            np.where(intl, np.array([P.INTERNATIONAL_CITIES[k][3] for k in icity], dtype=object), "+86"),
        )
        team_of_region = {reg: team for team, regs in P.SALES_TEAMS.items() for reg in regs}
        owner = np.empty(N, dtype=np.int64)
        for team in P.SALES_TEAMS:
            reps = np.flatnonzero(self.sales_team == team)
            mine = np.flatnonzero(np.array([team_of_region[x] for x in region]) == team)
            owner[mine] = reps[r.integers(len(reps), size=len(mine))]
        self.sales_owner = owner
        self.account = pd.DataFrame({
            "name": names, "domain": domains, "industry": self.industry, "employee_count": employees,
            "annual_revenue": revenue, "region": region, "province": province, "city": cityname,
            "development_stage": stage, "acquisition_channel": self.channel, "parent_id": parent,
        })  # fmt: skip

    def _propensities(self):
        r, N, S, E = self.rng("propensities"), self.N, self.S, self.E
        self.cohort = quotas(N, COHORTS, r)
        fit_industry = {"制造业": 0.6, "物流": 0.3, "医疗": 0.2, "SaaS/互联网": 0.1, "零售": 0.0, "专业服务": 0.0,
                        "教育": -0.3, "金融": -0.2}  # fmt: skip
        fit_channel = {
            "转介绍": 0.5,
            "展会": 0.1,
            "合作伙伴": 0.1,
            "官网/SEO": 0.0,
            "电话销售": -0.1,
            "线上广告": -0.2,
        }
        x = (
            np.array([fit_industry[k] for k in self.industry])
            + np.where((self.employees >= 80) & (self.employees <= 2000), 0.4, -0.2)
            + np.array([fit_channel[k] for k in self.channel])
            + r.normal(0, 0.7, N)
        )
        self.fit = 1 / (1 + np.exp(-x))
        self.engagement = r.beta(2 + 3 * self.fit, 2.5)
        self.p0 = 0.09 + 0.32 * self.engagement  # weekday share of seats that log in
        self.churn_q = np.clip(
            0.36 - 0.26 * self.fit + 0.08 * (self.employees < 50) + r.normal(0, 0.04, N), 0.03, 0.6
        )
        # Who was already a customer when the period began is not random: survivors churn less,
        # former customers more. Re-deal the subscription cohorts by those odds.
        pool = np.flatnonzero(np.isin(self.cohort, ["base_sub", "lapsed", "new_sub"]))
        q = self.churn_q[pool]
        base = r.choice(pool, (self.cohort == "base_sub").sum(), replace=False, p=weights((1 - q) ** 3))
        rest = np.setdiff1d(pool, base)
        odds = 1 - (1 - self.churn_q[rest]) ** 2
        lapsed = r.choice(rest, (self.cohort == "lapsed").sum(), replace=False, p=weights(odds))
        self.cohort[pool] = "new_sub"
        self.cohort[base], self.cohort[lapsed] = "base_sub", "lapsed"
        self.expand_rate = 0.9 * self.fit * self.engagement * r.gamma(2, 0.5, N)  # seat expansions per year
        self.contract_p = 0.18 * (1 - self.engagement)
        self.late_p = r.beta(1.3, 6, N)
        self.support_rate = r.gamma(2.0, 0.5, N)  # tickets per month per √(seats/10)
        self.nps_base = np.clip(5.5 + 3.2 * self.engagement + 1.2 * self.fit + r.normal(0, 1.0, N), 0, 10)
        self.growth = r.normal(0.12 * self.fit, 0.06, N)  # usage trend per year
        self.discount = np.round(r.uniform(0.72, 1.0, N), 2)
        self.cycle = np.clip(r.lognormal(np.log(35 * (self.employees / 150) ** 0.25), 0.5, N), 7, 240).astype(
            np.int64
        )
        self.to_sql = r.integers(10, 41, N)

        # when each account first met us, and (for customers) when it bought
        lead = np.empty(N, dtype=np.int64)
        start = np.full(N, -1, dtype=np.int64)
        is_base = np.isin(self.cohort, ["base_sub", "base_txn"])
        start[is_base] = S - r.integers(30, 1095, is_base.sum())
        lapsed = self.cohort == "lapsed"
        start[lapsed] = S - r.integers(400, 1460, lapsed.sum())
        old = is_base | lapsed
        lead[old] = start[old] - self.cycle[old] - self.to_sql[old]
        new = ~old
        lo, hi = S - 45, self.E - 5
        gamma = np.log(1.4) / 365  # the company grows ~40% a year: later leads are more frequent
        u = r.random(new.sum())
        lead[new] = lo + (np.log1p(u * np.expm1(gamma * (hi - lo))) / gamma).astype(np.int64)
        won = lead + self.to_sql + self.cycle
        start[new] = won[new]
        late = new & (won > E - 2)
        self.pipeline = late & (self.cohort != "prospect")  # would buy, but has not signed yet
        self.cohort[late] = "prospect"
        start[self.cohort == "prospect"] = -1
        self.lead_day, self.first_start, self.close_day = lead, start, won
        self.kind = np.where(np.isin(self.cohort, ["base_txn", "new_txn"]), "txn",
                             np.where(self.cohort == "prospect", "prospect", "sub"))  # fmt: skip
        # seats (or product users, for non-contract buyers)
        share = r.lognormal(np.log(0.035), 0.45, N)
        self.seats0 = np.clip(np.round(self.employees * share), 3, 200).astype(np.int64)
        plan_u = r.random(N)
        self.plan = np.where(
            self.employees < 80, np.where(plan_u < 0.7, 0, 1),
            np.where(self.employees < 800, np.where(plan_u < 0.25, 0, np.where(plan_u < 0.85, 1, 2)),
                     np.where(plan_u < 0.4, 1, 2)),
        )  # fmt: skip
        self.size_factor = np.where(self.employees < 300, 1.0, np.where(self.employees < 1000, 1.5, 2.5))
        # filled by the paths
        self.cause = np.full(N, "", dtype=object)
        self.decline_from = np.full(N, NEVER, dtype=np.int64)
        self.decline_to = np.full(N, NEVER, dtype=np.int64)
        self.decline_depth = np.zeros(N)
        self.churn_day = np.full(N, -1, dtype=np.int64)  # when the customer left (≤ as_of)
        self.latent_churn = np.full(N, -1, dtype=np.int64)  # when it would leave (may be after as_of)
        self.returned = np.full(N, -1, dtype=np.int64)
        self.dormant = np.full(N, -1, dtype=np.int64)
        self.low_adoption = np.zeros(N, dtype=bool)
        self.expansions = np.zeros(N, dtype=np.int64)
        self.contractions = np.zeros(N, dtype=np.int64)
        self.main_mrr = np.zeros(N)
        self.dip = np.full((N, 2), NEVER, dtype=np.int64)
        self.dip_depth = np.zeros(N)

    # ---------------------------------------------------------------- derived latent curves
    def decline_progress(self, acct, day):
        """0 before an account's decline, rising to 1 at its churn (or dormancy) date. An account a
        play saved stops declining on the day it was saved, and recovers from there."""
        acct, day = np.asarray(acct), np.asarray(day)
        saved = self.saved_on[acct]
        after = day >= saved
        f = self._unsaved_progress(acct, np.where(after, saved, day))
        return np.where(after, f * np.exp(-np.maximum(day - saved, 0) / RECOVERY_DAYS), f)

    def _unsaved_progress(self, acct, day):
        d0, d1 = self.decline_from[acct], self.decline_to[acct]
        with np.errstate(divide="ignore", invalid="ignore"):
            f = (day - d0) / np.maximum(d1 - d0, 1)
        return np.where(d0 < NEVER, np.clip(f, 0, 1), 0.0) * (day < d1)

    def level(self, acct, day, origin):
        """How much of its healthy usage an account shows on a day (before noise and weekdays)."""
        acct, day, origin = np.asarray(acct), np.asarray(day), np.asarray(origin)
        ramp = 1 - 0.65 * np.exp(-np.maximum(day - origin, 0) / 28)
        growth = np.minimum(np.exp(self.growth[acct] * (day - origin) / 365), 1.5)
        in_first_life = origin < self.decline_to[acct]
        f = np.where(in_first_life, self.decline_progress(acct, day), 0.0)
        decline = 1 - self.decline_depth[acct] * f**DECLINE_SHAPE
        dip = 1 - self.dip_depth[acct] * ((day >= self.dip[acct, 0]) & (day < self.dip[acct, 1]))
        return ramp * growth * decline * dip

    def segment_frame(self) -> pd.DataFrame:
        """Spans of product use clipped to the simulated period: account, origin, start, end (exclusive)."""
        seg = pd.DataFrame(self.segments, columns=["account", "origin", "end"])
        seg["start"] = np.maximum(seg["origin"], self.S)
        seg["end"] = np.minimum(seg["end"], self.E + 1)
        return seg[seg["end"] > seg["start"]].sort_values(["account", "start"], ignore_index=True)

    def month_grid(self) -> pd.DataFrame:
        """(segment × calendar month) pieces of product use: account, origin, lo, hi (exclusive)."""
        seg = self.segment_frame()
        months = add_months(
            add_months(self.S, 0) - (to_date(self.S).day - 1), np.arange(self.spec.months + 2)
        )
        rows = []
        for lo, hi in zip(months[:-1], months[1:], strict=True):
            a = np.maximum(seg["start"].to_numpy(), lo)
            b = np.minimum(seg["end"].to_numpy(), hi)
            keep = b > a
            rows.append(pd.DataFrame({"account": seg["account"].to_numpy()[keep], "origin": seg["origin"].to_numpy()[keep],
                                      "lo": a[keep], "hi": b[keep]}))  # fmt: skip
        return pd.concat(rows, ignore_index=True)

    def _tags(self):
        r, N = self.rng("tags"), self.N
        cats = list(P.TAG_LIBRARY)
        tag_rows, tag_index = [], {}
        for c, cat in enumerate(cats):
            for v in P.TAG_LIBRARY[cat][1]:
                tag_index[(cat, v)] = len(tag_rows)
                tag_rows.append((c, v))
        self.frames["tag_category"] = pd.DataFrame(
            {"name": cats, "description": [P.TAG_LIBRARY[c][0] for c in cats]}
        )
        self.frames["tag"] = pd.DataFrame(tag_rows, columns=["category_id", "value"])
        pairs = []

        def tag(mask, cat, values):
            for i, v in zip(np.flatnonzero(mask), np.asarray(values, dtype=object)[mask], strict=True):
                pairs.append((i, tag_index[(cat, v)]))

        everyone = np.ones(N, dtype=bool)
        auto = P.TAG_LIBRARY["产线自动化率"][1]
        z = self.fit + r.normal(0, 0.2, N)
        tag(
            self.industry == "制造业",
            "产线自动化率",
            np.where(z < 0.4, auto[0], np.where(z < 0.7, auto[1], auto[2])),
        )
        mat = P.TAG_LIBRARY["数字化成熟度"][1]
        z = self.engagement + r.normal(0, 0.12, N)
        tag(everyone, "数字化成熟度", np.where(z < 0.4, mat[0], np.where(z < 0.65, mat[1], mat[2])))
        cyc = P.TAG_LIBRARY["决策周期"][1]
        tag(
            everyone,
            "决策周期",
            np.where(self.cycle < 30, cyc[0], np.where(self.cycle <= 90, cyc[1], cyc[2])),
        )
        tier = P.TAG_LIBRARY["客户分层"][1]
        tag(
            everyone,
            "客户分层",
            np.where(self.employees > 1000, tier[0], np.where(self.employees > 150, tier[1], tier[2])),
        )
        scene = P.TAG_LIBRARY["核心场景"][1]
        pick = r.integers(4, size=N)
        pick = np.where((self.industry == "制造业") & (r.random(N) < 0.6), 2, pick)
        tag(everyone, "核心场景", np.array(scene, dtype=object)[pick])
        comp = P.TAG_LIBRARY["合规要求"][1]
        tag((self.industry == "医疗") & (r.random(N) < 0.7), "合规要求", np.full(N, comp[1], dtype=object))
        tag((self.industry == "金融") & (r.random(N) < 0.8), "合规要求", np.full(N, comp[2], dtype=object))
        tag(
            (self.employees > 1000) & ~np.isin(self.industry, ["医疗", "金融"]) & (r.random(N) < 0.4),
            "合规要求",
            np.full(N, comp[0], dtype=object),
        )
        self.frames["account_tag"] = pd.DataFrame(pairs, columns=["account_id", "tag_id"]).sort_values(
            ["account_id", "tag_id"], ignore_index=True
        )

    def _account_frame(self):
        r, N = self.rng("account-frame"), self.N
        pains, drivers = [], []
        for i in range(N):
            pool = P.PAIN_POINTS[self.industry[i]]
            pains.append([pool[k] for k in sorted(r.choice(len(pool), int(r.integers(1, 4)), replace=False))])
            drivers.append(
                [
                    P.VALUE_DRIVERS[k]
                    for k in sorted(r.choice(len(P.VALUE_DRIVERS), int(r.integers(1, 3)), replace=False))
                ]
            )
        acc = self.account
        acc["pain_points"] = pains
        acc["value_drivers"] = drivers
        acc["sales_owner_id"] = self.sales_owner
        acc["csm_id"] = self.csm
        acc["referred_by_account_id"] = self.referred_by_account
        acc["referred_by_contact_id"] = self.referred_by_contact
        seg = pd.DataFrame(self.segments, columns=["account", "origin", "end"])
        since = np.full(N, -1)
        if len(seg):
            g = seg.groupby("account")["origin"].min()
            since[g.index.to_numpy()] = g.to_numpy()
        acc["customer_since"] = since
        acc["external_id"] = self.ext("A", np.arange(N))
        stamp = self.stamp(self.lead_day, r)
        acc["created_at"] = stamp
        acc["updated_at"] = stamp
        self.frames["account"] = acc

    # ---------------------------------------------------------------- ground truth
    def _truth(self):
        N, E = self.N, self.E
        arche = np.empty(N, dtype=object)
        sub, txn = self.kind == "sub", self.kind == "txn"
        arche[self.kind == "prospect"] = "prospect"
        churned = sub & (self.churn_day >= 0)
        arche[sub] = np.where(self.expansions[sub] > 0, "growing", "steady")
        arche[sub & (self.contractions > self.expansions)] = "contracting"
        arche[sub & (self.decline_from <= E) & ~churned] = "declining"
        arche[churned] = np.where(self.returned[churned] >= 0, "returned", "churned")
        arche[txn] = np.where(self.dormant[txn] >= 0, np.where(self.returned[txn] >= 0, "woken", "dormant"),
                              "repeat_buyer")  # fmt: skip
        props = []
        for i in range(N):
            props.append(json.dumps({
                "cohort": str(self.cohort[i]),
                "customer_kind": {"sub": "subscription", "txn": "non_contract"}.get(self.kind[i], "prospect"),
                "low_adoption": bool(self.low_adoption[i]), "icp_fit": round(float(self.fit[i]), 3),
                "engagement": round(float(self.engagement[i]), 3),
                "annual_churn_probability": round(float(self.churn_q[i]), 3),
                "expansions_per_year": round(float(self.expand_rate[i]), 3),
                "late_payment": round(float(self.late_p[i]), 3), "tickets_per_month": round(float(self.support_rate[i]), 3),
                "nps_base": round(float(self.nps_base[i]), 2), "usage_growth_per_year": round(float(self.growth[i]), 3),
                "decline_from": iso(self.decline_from[i]), "latent_churn_date": iso(self.latent_churn[i]),
                "champion_left_on": iso(self.champion_left[i]),
                "usage_dip": [iso(self.dip[i, 0]), iso(self.dip[i, 1])] if self.dip[i, 0] < NEVER else None,
            }, ensure_ascii=False))  # fmt: skip
        self.frames["true_state"] = pd.DataFrame({
            "account_id": np.arange(N), "archetype": arche,
            "churn_date": np.where(churned, self.churn_day, -1),
            "churn_cause": np.where(churned, self.cause, ""),
            "returned_on": self.returned, "dormant_since": self.dormant, "propensities": props,
            "seed": self.spec.seed,
        })  # fmt: skip
