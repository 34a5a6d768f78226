"""The people and the conversations: each account's decision chain (and who leaves, and when),
referrals, the lead funnel and channel spend, tickets, NPS and CSAT surveys, interactions by the
owners and CSMs — each drawn from the account's latent state, so that they move with its story.
A mixin of clm.demo.world.World."""

import datetime as dt

import numpy as np
import pandas as pd

from clm.demo import names as P
from clm.demo.base import NEVER, day_number, to_date, weights


class Activity:
    # ---------------------------------------------------------------- people
    def _contacts(self):
        r, N, E = self.rng("contacts"), self.N, self.E
        customer = self.kind != "prospect"
        # owners are rows of the user frame: the sales reps first, then the CSMs
        self.csm = np.where(customer, self.n_sales + r.integers(self.n_csm, size=N), -1)
        n = np.where(
            customer, np.clip(2 + r.poisson((self.employees / 60) ** 0.45), 2, 10), 1 + r.binomial(2, 0.5, N)
        )
        acct = np.repeat(np.arange(N), n)
        pos = np.arange(len(acct)) - np.repeat(np.cumsum(n) - n, n)
        big = self.employees[acct] > 150
        role = np.where(pos == 0, "decision_maker", np.where(pos == 1, np.where(customer[acct], "champion", "influencer"),
                        np.where((pos == 2) & big, "economic_buyer",
                                 np.where(r.random(len(acct)) < 0.3, "influencer", "user"))))  # fmt: skip
        created = self.lead_day[acct] + r.integers(0, 21, len(acct))
        later = pos > 2
        first = np.where(self.first_start[acct] >= 0, self.first_start[acct], self.lead_day[acct])
        created = np.where(later, first + r.integers(0, 91, len(acct)), created)
        created = np.minimum(created, E)
        left = np.full(len(acct), -1, dtype=np.int64)
        # the champion of a declining customer often leaves — for champion_left, that starts it
        champ = (role == "champion") & (self.decline_from[acct] < NEVER) & (self.kind[acct] == "sub")
        cause = self.cause[acct]
        p_leave = np.array([P.CHURN_CAUSES[c][5] if c else 0.0 for c in cause])
        go = champ & (r.random(len(acct)) < p_leave)
        d0, d1 = self.decline_from[acct], self.decline_to[acct]
        when = np.where(cause == "champion_left", d0 - r.integers(0, 31, len(acct)),
                        d0 + (r.random(len(acct)) * np.maximum(d1 - d0, 1)).astype(np.int64))  # fmt: skip
        left = np.where(go, when, left)
        # everyone else: ordinary turnover, ~6% a year
        years = np.maximum(E - created, 0) / 365
        churn_like = ~go & customer[acct] & (r.random(len(acct)) < 1 - np.exp(-0.06 * years))
        span = np.maximum(E - (created + 60), 1)
        left = np.where(
            churn_like & (E - created > 90),
            created + 60 + (r.random(len(acct)) * span).astype(np.int64),
            left,
        )
        left = np.where((left >= 0) & ((left > E) | (left <= created)), -1, left)
        # a departed decision maker or champion is often replaced
        key = np.isin(role, ["decision_maker", "champion"]) & (left >= 0)
        declining = self.decline_from[acct] < NEVER
        repl = key & (r.random(len(acct)) < np.where(declining, 0.3, 0.6))
        repl_day = left + r.integers(14, 91, len(acct))
        repl &= (repl_day <= E) & ((self.latent_churn[acct] < 0) | (repl_day < self.latent_churn[acct]))
        acct = np.concatenate([acct, acct[repl]])
        role = np.concatenate([role, role[repl]])
        created = np.concatenate([created, repl_day[repl]])
        left = np.concatenate([left, np.full(repl.sum(), -1)])
        order = np.lexsort((created, acct))
        acct, role, created, left = acct[order], role[order], created[order], left[order]
        m = len(acct)
        is_intl = self.intl[acct]
        sn = r.choice(len(P.SURNAMES), m, p=weights(P.SURNAME_WEIGHTS))
        gn = r.choice(len(P.GIVEN_NAMES), m)
        ef, el = r.integers(len(P.EN_FIRST), size=m), r.integers(len(P.EN_LAST), size=m)
        title_pick = r.random(m)
        phone_digits = r.integers(10**7, 10**8, m)
        mobile = np.array(["138", "139", "158", "186", "188", "137", "136", "150", "135", "189"])[
            r.integers(10, size=m)
        ]
        names, emails, titles, phones = [], [], [], []
        used: set[str] = set()
        for k in range(m):
            i = acct[k]
            if is_intl[k]:
                first, last = P.EN_FIRST[ef[k]], P.EN_LAST[el[k]]
                name, local = f"{first} {last}", f"{first.split()[0]}.{last}".lower()
                pool = P.TITLES[role[k]][1]
                phone = f"{self.phone_prefix[i]} {phone_digits[k]}"
            else:
                name = P.SURNAMES[sn[k]][0] + P.GIVEN_NAMES[gn[k]][0]
                local = f"{P.GIVEN_NAMES[gn[k]][1]}.{P.SURNAMES[sn[k]][1]}"
                pool = P.TITLES[role[k]][0]
                phone = f"+86 {mobile[k]} {str(phone_digits[k])[:4]} {str(phone_digits[k])[4:]}"
            email = f"{local}@{self.domain[i]}"
            n_try = 2
            while email in used:
                email = f"{local}{n_try}@{self.domain[i]}"
                n_try += 1
            used.add(email)
            names.append(name)
            emails.append(email.replace("ü", "u"))
            titles.append(pool[int(title_pick[k] * len(pool))])
            phones.append(phone)
        consent = r.random(m) < 0.55
        stamp = self.stamp(created, r)
        self.frames["contact"] = pd.DataFrame({
            "account_id": acct, "name": names, "email": emails, "phone": phones, "title": titles, "role": role,
            "is_key_person": np.isin(role, ["decision_maker", "economic_buyer", "champion"]) |
                             ((role == "influencer") & (r.random(m) < 0.2)),
            "status": np.where(left >= 0, "left", "active"), "left_on": left, "email_consent": consent,
            "email_consent_at": np.where(consent, stamp, -1), "external_id": self.ext("C", np.arange(m)),
            "created_at": stamp, "updated_at": np.where(left >= 0, left * 86400 + 3600, stamp),
        })  # fmt: skip
        self.contact_acct, self.contact_role = acct, role
        self.contact_created, self.contact_left = created, left
        starts = np.searchsorted(acct, np.arange(N))
        self.contact_range = np.stack([starts, np.searchsorted(acct, np.arange(N), side="right")], axis=1)
        champions = np.flatnonzero(role == "champion")
        first_champion = pd.Series(champions).groupby(acct[champions]).first()
        self.champion = starts.copy()  # an account without a champion: its first contact
        self.champion[first_champion.index.to_numpy()] = first_champion.to_numpy()
        self.champion_left = np.where(role[self.champion] == "champion", left[self.champion], -1)

    def pick_contacts(self, acct, day, r, roles=None):
        """A contact of each account who is with the company on that day (-1 if none found)."""
        acct, day = np.asarray(acct), np.asarray(day)
        lo, hi = self.contact_range[acct, 0], self.contact_range[acct, 1]
        out = np.full(len(acct), -1)
        for _ in range(4):
            todo = out < 0
            if not todo.any():
                break
            k = lo[todo] + (r.random(todo.sum()) * (hi[todo] - lo[todo])).astype(np.int64)
            ok = (self.contact_created[k] <= day[todo]) & (
                (self.contact_left[k] < 0) | (self.contact_left[k] > day[todo])
            )
            if roles is not None:
                ok &= np.isin(self.contact_role[k], roles)
            out[np.flatnonzero(todo)[ok]] = k[ok]
        return out

    def _referrals(self):
        """Referred accounts point to a customer who was with us when they met us; promoters refer most."""
        r, N = self.rng("referrals"), self.N
        seg = pd.DataFrame(self.segments, columns=["account", "origin", "end"])
        first = seg.groupby("account").agg(origin=("origin", "min"), end=("end", "max"))
        origin = np.full(N, NEVER)
        end = np.full(N, -1)
        origin[first.index.to_numpy()] = first["origin"].to_numpy()
        end[first.index.to_numpy()] = first["end"].to_numpy()
        weight = np.where(self.nps_base >= 9, 3.0, np.where(self.nps_base >= 7, 1.0, 0.2))
        by_acct = np.full(N, -1)
        by_contact = np.full(N, -1)
        referred = np.flatnonzero(self.channel == "转介绍")
        for j in referred[np.argsort(self.lead_day[referred], kind="stable")]:
            when = self.lead_day[j]
            ok = (origin <= when - 30) & (end > when)
            ok[j] = False
            if not ok.any():
                self.channel[j] = "官网/SEO"
                continue
            w = np.where(ok, weight, 0.0)
            k = r.choice(N, p=w / w.sum())
            by_acct[j] = k
            by_contact[j] = self.champion[k]
        self.referred_by_account, self.referred_by_contact = by_acct, by_contact
        self.account["acquisition_channel"] = self.channel

    # ---------------------------------------------------------------- sales funnel
    def _leads(self):
        """Every account came from a converted lead; most leads never convert."""
        r, E = self.rng("leads"), self.E
        N = self.N
        mal = self.lead_day
        mql = mal + r.integers(1, 15, N)
        sql = np.minimum(mal + self.to_sql, E)
        mql = np.minimum(mql, sql)
        conv = sql
        first_contact = self.contact_range[:, 0]
        converted = pd.DataFrame({
            "mal": mal, "mql": mql, "sql": sql, "conv": conv, "disq": -1,
            "status": "converted", "channel": self.channel, "owner": self.sales_owner, "account": np.arange(N),
            "contact": first_contact, "company": self.names, "intl": self.intl, "reason": "",
            "domain": self.domain,
        })  # fmt: skip
        new = self.lead_day >= self.S - 45
        n_open = int(round(max(new.sum(), 1) * 5))
        lo, hi = self.S - 45, E
        gamma = np.log(1.4) / 365
        mal_o = lo + (np.log1p(r.random(n_open) * np.expm1(gamma * (hi - lo))) / gamma).astype(np.int64)
        mql_o = mal_o + r.integers(1, 15, n_open)
        sql_o = mql_o + r.integers(3, 22, n_open)
        reach = np.where(r.random(n_open) < 0.45, np.where(r.random(n_open) < 0.4, 2, 1), 0)
        reach = np.where((reach >= 1) & (mql_o > E), 0, reach)
        reach = np.where((reach == 2) & (sql_o > E), 1, reach)
        last = np.choose(reach, [mal_o, mql_o, sql_o])
        disq_day = last + r.integers(5, 31, n_open)
        disq = (disq_day <= E) & (r.random(n_open) < 0.7)
        status = np.where(disq, "disqualified", np.array(["mal", "mql", "sql"], dtype=object)[reach])
        ch = r.choice(len(P.CHANNELS), n_open, p=weights(P.CHANNEL_WEIGHTS))
        fake = _fake_companies(r, n_open)
        reasons = np.array(["无预算", "非目标客户", "联系方式无效", "已采购竞品", "需求不明确"], dtype=object)
        owner = r.integers(self.n_sales, size=n_open)
        others = pd.DataFrame({
            "mal": mal_o, "mql": np.where(reach >= 1, mql_o, -1), "sql": np.where(reach >= 2, sql_o, -1),
            "conv": -1, "disq": np.where(disq, disq_day, -1), "status": status,
            "channel": np.array(P.CHANNELS, dtype=object)[ch], "owner": owner, "account": -1, "contact": -1,
            "company": fake["name"], "intl": fake["intl"], "reason": np.where(disq, reasons[r.integers(5, size=n_open)], ""),
            "domain": fake["domain"],
        })  # fmt: skip
        leads = pd.concat([converted, others], ignore_index=True)
        m = len(leads)
        sn = r.choice(len(P.SURNAMES), m, p=weights(P.SURNAME_WEIGHTS))
        gn = r.choice(len(P.GIVEN_NAMES), m)
        ef, el = r.integers(len(P.EN_FIRST), size=m), r.integers(len(P.EN_LAST), size=m)
        intl = leads["intl"].to_numpy()
        name = np.array(
            [
                f"{P.EN_FIRST[e]} {P.EN_LAST[f]}" if x else P.SURNAMES[a][0] + P.GIVEN_NAMES[b][0]
                for x, a, b, e, f in zip(intl, sn, gn, ef, el, strict=True)
            ],
            dtype=object,
        )
        local = [
            f"{P.EN_FIRST[e].split()[0]}.{P.EN_LAST[f]}".lower().replace("ü", "u")
            if x
            else f"{P.GIVEN_NAMES[b][1]}.{P.SURNAMES[a][1]}"
            for x, a, b, e, f in zip(intl, sn, gn, ef, el, strict=True)
        ]
        contact = leads["contact"].to_numpy()
        cframe = self.frames["contact"]
        has = contact >= 0
        name[has] = cframe["name"].to_numpy()[contact[has]]
        email = np.array([f"{a}@{d}" for a, d in zip(local, leads["domain"], strict=True)], dtype=object)
        email[has] = cframe["email"].to_numpy()[contact[has]]
        titles = np.array(["总经理", "IT经理", "运营总监", "行政经理", "CIO", "采购经理"], dtype=object)
        title = titles[r.integers(len(titles), size=m)]
        title[has] = cframe["title"].to_numpy()[contact[has]]
        phone = np.array([f"+86 1{n}" for n in r.integers(3 * 10**9, 9 * 10**9, m)], dtype=object)
        phone[has] = cframe["phone"].to_numpy()[contact[has]]

        def stamp(col):
            v = leads[col].to_numpy()
            return np.where(v >= 0, self.stamp(np.maximum(v, 0), r), -1)

        last_day = leads[["mal", "mql", "sql", "conv", "disq"]].max(axis=1).to_numpy()
        self.frames["lead"] = pd.DataFrame({
            "name": name, "email": email, "phone": phone, "title": title, "company": leads["company"],
            "source_channel": leads["channel"], "status": leads["status"], "mal_at": stamp("mal"),
            "mql_at": stamp("mql"), "sql_at": stamp("sql"), "converted_at": stamp("conv"),
            "disqualified_at": stamp("disq"), "disqualify_reason": leads["reason"], "owner_id": leads["owner"],
            "account_id": leads["account"], "contact_id": contact, "external_id": self.ext("L", np.arange(m)),
            "created_at": stamp("mal"), "updated_at": self.stamp(last_day, r),
        })  # fmt: skip

    def _channel_spend(self):
        r = self.rng("channel-spend")
        lead = self.frames["lead"]
        month = pd.to_datetime(lead["mal_at"] // 86400, unit="D").dt.to_period("M")
        counts = lead.groupby([lead["source_channel"], month]).size()
        first = pd.Period(to_date(self.S), "M")
        periods = pd.period_range(first, pd.Period(to_date(self.E), "M"), freq="M")
        rows = []
        for ch in P.CHANNELS:
            for p in periods:
                n = counts.get((ch, p), 0)
                amount = (n * P.CHANNEL_COST_PER_LEAD[ch] + P.CHANNEL_MONTHLY_BASE[ch]) * r.lognormal(0, 0.15)
                if ch == "展会" and n and r.random() < 0.3:
                    amount += 30000  # a booth at an industry fair
                rows.append((ch, day_number(p.start_time.date()), round(float(amount), 2)))
        self.frames["channel_spend"] = pd.DataFrame(rows, columns=["channel", "month", "amount"])

    # ---------------------------------------------------------------- service
    def _tickets(self):
        r = self.rng("tickets")
        grid = self.month_grid()
        a = grid["account"].to_numpy()
        lo, hi = grid["lo"].to_numpy(), grid["hi"].to_numpy()
        mid = (lo + hi) // 2
        f = self.decline_progress(a, mid)
        cause = self.cause[a]
        ticket_mult = np.array([P.CHURN_CAUSES[c][3] if c else 1.0 for c in cause])
        onboarding = (mid - grid["origin"].to_numpy()) < 60
        seats = np.maximum(self.seats0[a], 3)
        rate = (
            self.support_rate[a]
            * np.sqrt(seats / 10)
            * (1 + 1.0 * onboarding)
            * (1 + (ticket_mult - 1) * f * 2)
        )
        rate *= np.where((mid >= self.dip[a, 0]) & (mid < self.dip[a, 1]), 1.3, 1.0)
        count = r.poisson(rate * (hi - lo) / 30.44)
        acct = np.repeat(a, count)
        day = np.repeat(lo, count) + (r.random(count.sum()) * np.repeat(hi - lo, count)).astype(np.int64)
        n = len(acct)
        f = self.decline_progress(acct, day)
        cause = self.cause[acct]
        complaint_share = np.array([P.CHURN_CAUSES[c][4] if c else 0.03 for c in cause])
        w = weights(P.TICKET_CATEGORY_WEIGHTS[:-1])
        cat = r.choice(len(P.TICKET_CATEGORIES) - 1, n, p=w)
        complaint = r.random(n) < 0.03 + complaint_share * f
        category = np.where(complaint, "complaint", np.array(P.TICKET_CATEGORIES[:-1], dtype=object)[cat])
        u = r.random(n)
        priority = np.select(
            [category == "complaint", category == "bug", category == "integration"],
            [np.where(u < 0.4, "urgent", "high"), np.where(u < 0.1, "urgent", np.where(u < 0.45, "high", "normal")),
             np.where(u < 0.3, "high", "normal")],
            np.where(u < 0.5, "low", "normal"),
        )  # fmt: skip
        opened = self.stamp(day, r, 8.5, 19.5)
        first_h = {"urgent": 0.5, "high": 2.0, "normal": 4.0, "low": 8.0}
        res_h = {"urgent": 6.0, "high": 24.0, "normal": 48.0, "low": 96.0}
        slow = 1 + f * np.where(cause == "poor_support", 2.5, 0.5)
        fr = opened + (
            3600 * np.array([first_h[p] for p in priority]) * r.lognormal(0, 0.8, n) * slow
        ).astype(np.int64)
        rs = fr + (3600 * np.array([res_h[p] for p in priority]) * r.lognormal(0, 1.0, n) * slow).astype(
            np.int64
        )
        end = (self.E + 1) * 86400 - self.spec.utc_offset_hours * 3600
        resolved = rs < end
        closed = resolved & (rs < end - 7 * 86400) & (r.random(n) < 0.7)
        status = np.where(
            closed, "closed", np.where(resolved, "resolved", np.where(fr < end, "pending", "open"))
        )
        hours = (rs - opened) / 3600
        csat_raw = (
            4.6
            - 0.35 * np.log1p(hours / 24)
            - 1.6 * f * np.where(cause == "poor_support", 1.5, 1.0)
            + r.normal(0, 0.7, n)
        )
        csat = np.where(resolved & (r.random(n) < 0.45), np.clip(np.round(csat_raw), 1, 5), -1).astype(
            np.int64
        )
        subjects = np.array([P.TICKET_SUBJECTS[c][int(x * len(P.TICKET_SUBJECTS[c]))]
                             for c, x in zip(category, r.random(n), strict=True)], dtype=object)  # fmt: skip
        contact = self.pick_contacts(acct, day, r)
        order = np.lexsort((opened, acct))
        t = pd.DataFrame({
            "account_id": acct, "contact_id": contact, "subject": subjects, "category": category, "priority": priority,
            "status": status, "opened_at": opened, "first_response_at": np.where(fr < end, fr, -1),
            "resolved_at": np.where(resolved, rs, -1), "csat": csat,
        }).iloc[order].reset_index(drop=True)  # fmt: skip
        t["external_id"] = self.ext("T", np.arange(len(t)))
        self.frames["ticket"] = t

    def _surveys(self):
        """Quarterly relational NPS (mid-March, June, September, December)."""
        r = self.rng("surveys")
        seg = self.segment_frame()
        waves = []
        d = to_date(self.S)
        for year in range(d.year, to_date(self.E).year + 1):
            for month in (3, 6, 9, 12):
                w = day_number(dt.date(year, month, 15))
                if self.S <= w <= self.E:
                    waves.append(w)
        rows = []
        for w in waves:
            alive = seg[(seg["start"] <= w) & (seg["end"] > w) & (w - seg["origin"] >= 60)]
            a = alive["account"].to_numpy()
            respond = r.random(len(a)) < 0.3 + 0.25 * self.engagement[a]
            a = a[respond]
            two = r.random(len(a)) < 0.25
            a = np.concatenate([a, a[two]])
            day = np.minimum(w + r.integers(0, 15, len(a)), self.E)
            rows.append(pd.DataFrame({"account": a, "day": day}))
        s = (
            pd.concat(rows, ignore_index=True)
            if rows
            else pd.DataFrame({"account": [], "day": []}, dtype=np.int64)
        )
        a, day = s["account"].to_numpy(np.int64), s["day"].to_numpy(np.int64)
        n = len(a)
        f = self.decline_progress(a, day)
        dip = (day >= self.dip[a, 0]) & (day < self.dip[a, 1])
        champ_gone = (self.champion_left[a] >= 0) & (self.champion_left[a] <= day)
        score = self.nps_base[a] - 5.5 * f - 1.5 * dip - 1.0 * champ_gone + r.normal(0, 1.2, n)
        score = np.clip(np.round(score), 0, 10).astype(np.int64)
        band = np.where(score >= 9, "promoter", np.where(score >= 7, "passive", "detractor"))
        comment = np.array([P.NPS_COMMENTS[b][int(x * len(P.NPS_COMMENTS[b]))]
                            for b, x in zip(band, r.random(n), strict=True)], dtype=object)  # fmt: skip
        nps = pd.DataFrame({"account_id": a, "contact_id": self.pick_contacts(a, day, r), "kind": "nps", "score": score,
                            "comment": comment, "responded_at": self.stamp(day, r)})  # fmt: skip
        self.frames["survey_nps"] = nps

    def _interactions(self):
        """Sales conversations around each opportunity, onboarding, the CSM's cadence (QBRs for the
        larger accounts), risk follow-ups while a customer declines, win-back calls."""
        r = self.rng("interactions")
        parts = []
        # around opportunities
        opp = self.frames["opportunity"]
        created = opp["created_at"].to_numpy() // 86400
        closed = np.where(opp["closed_on"] >= 0, opp["closed_on"], self.E)
        count = 1 + r.poisson(np.where(opp["type"] == "new", 3, 1.5))
        oa = np.repeat(opp["account_id"].to_numpy(), count)
        span = np.repeat(np.maximum(closed - created, 1), count)
        day = np.repeat(created, count) + (r.random(count.sum()) * span).astype(np.int64)
        kind = np.repeat(
            np.where(
                opp["type"] == "renewal",
                "renewal",
                np.where(opp["name"].str.endswith("回流签约"), "winback", "sales"),
            ),
            count,
        )
        owner = np.repeat(opp["owner_id"].to_numpy(), count)
        parts.append(pd.DataFrame({"account": oa, "day": day, "pool": kind, "owner": owner}))
        # onboarding of every start (and restart) inside the period
        seg = pd.DataFrame(self.segments, columns=["account", "origin", "end"])
        seg = seg[(seg["origin"] >= self.S) & (seg["origin"] <= self.E)]
        k = 1 + r.binomial(2, 0.6, len(seg))
        sa = np.repeat(seg["account"].to_numpy(), k)
        pos = np.arange(k.sum()) - np.repeat(np.cumsum(k) - k, k)
        sd = np.repeat(seg["origin"].to_numpy(), k) + np.where(pos == 0, r.integers(1, 8, k.sum()),
                                                                 r.integers(7, 46, k.sum()))  # fmt: skip
        parts.append(pd.DataFrame({"account": sa, "day": sd, "pool": "onboarding", "owner": -1}))
        # the CSM's cadence
        grid = self.month_grid()
        a = grid["account"].to_numpy()
        lo, hi = grid["lo"].to_numpy(), grid["hi"].to_numpy()
        mid = (lo + hi) // 2
        f = self.decline_progress(a, mid)
        neglect = np.isin(self.cause[a], ["poor_support", "champion_left", "low_adoption"])
        big = self.main_mrr[a] >= 6000
        rate = (0.7 + 0.8 * big) * np.where(neglect, 1 - 0.6 * f, 1 + 0.5 * f)
        c = r.poisson(rate * (hi - lo) / 30.44)
        ca = np.repeat(a, c)
        cd = np.repeat(lo, c) + (r.random(c.sum()) * np.repeat(hi - lo, c)).astype(np.int64)
        risky = self.decline_progress(ca, cd) > 0.3
        pool = np.where(risky & (r.random(len(ca)) < 0.5), "risk", "csm")
        parts.append(pd.DataFrame({"account": ca, "day": cd, "pool": pool, "owner": -1}))
        q = r.poisson(big * (hi - lo) / 91.0)
        qa = np.repeat(a, q)
        qd = np.repeat(lo, q) + (r.random(q.sum()) * np.repeat(hi - lo, q)).astype(np.int64)
        parts.append(pd.DataFrame({"account": qa, "day": qd, "pool": "qbr", "owner": -1}))
        x = pd.concat(parts, ignore_index=True)
        x = x[(x["day"] >= self.S) & (x["day"] <= self.E)].reset_index(drop=True)
        a = x["account"].to_numpy()
        csm_or_sales = np.where(self.csm[a] >= 0, self.csm[a], self.sales_owner[a])
        owner = np.where(
            x["owner"] >= 0, x["owner"], csm_or_sales
        )  # the CSM's own work unless an opportunity's
        n = len(x)
        choice = r.random(n)
        types, directions, summaries, outcomes = [], [], [], []
        pains = self.account["pain_points"].to_numpy()
        for pool_name, i, u in zip(x["pool"].to_numpy(), a, choice, strict=True):
            pool = P.INTERACTIONS[pool_name]
            t, d, s, o = pool[int(u * len(pool))]
            if "{" in s:
                cause = P.CHURN_CAUSES[self.cause[i]][1] if self.cause[i] else "业务调整"
                s = s.format(pain=pains[i][0] if pains[i] else "协同效率", cause=cause)
            types.append(t)
            directions.append(d)
            summaries.append(s)
            outcomes.append(o)
        day = x["day"].to_numpy()
        contact = self.pick_contacts(a, day, r, roles=None)
        occurred = self.stamp(day, r)
        inter = pd.DataFrame(
            {
                "account_id": a,
                "contact_id": contact,
                "type": types,
                "direction": directions,
                "occurred_at": occurred,
                "owner_id": owner,
                "summary": summaries,
                "outcome": outcomes,
            }
        )
        inter = inter.sort_values(["account_id", "occurred_at"], kind="stable", ignore_index=True)
        inter["external_id"] = self.ext("I", np.arange(len(inter)))
        self.frames["interaction"] = inter
        # CSAT after trainings and QBRs
        t = inter[inter["type"].isin(["training", "qbr"])]
        t = t[r.random(len(t)) < 0.5]
        ta = t["account_id"].to_numpy()
        td = t["occurred_at"].to_numpy() // 86400
        score = (
            4.3 + 0.6 * self.engagement[ta] - 1.5 * self.decline_progress(ta, td) + r.normal(0, 0.6, len(t))
        )
        csat = pd.DataFrame({"account_id": ta, "contact_id": t["contact_id"].to_numpy(), "kind": "csat",
                             "score": np.clip(np.round(score), 1, 5).astype(np.int64), "comment": "",
                             "responded_at": t["occurred_at"].to_numpy() + 86400})  # fmt: skip
        csat = csat[csat["responded_at"] // 86400 <= self.E]
        surveys = pd.concat([self.frames.pop("survey_nps"), csat], ignore_index=True)
        surveys = surveys.sort_values(["account_id", "responded_at"], kind="stable", ignore_index=True)
        surveys["external_id"] = self.ext("R", np.arange(len(surveys)))
        self.frames["survey_response"] = surveys


def _fake_companies(r, n) -> pd.DataFrame:
    """Company names for leads that never became accounts."""
    intl = r.random(n) < 0.08
    industries = list(P.INDUSTRIES)
    ind = r.choice(len(industries), n, p=weights([v[0] for v in P.INDUSTRIES.values()]))
    city = r.choice(len(P.CHINA_CITIES), n, p=weights([c[4] for c in P.CHINA_CITIES]))
    brand = r.integers(len(P.BRANDS), size=n)
    en = r.integers(len(P.EN_BRANDS), size=n)
    word = r.random(n)
    names, domains = [], []
    for k in range(n):
        spec = P.INDUSTRIES[industries[ind[k]]]
        if intl[k]:
            w = spec[3][int(word[k] * len(spec[3]))]
            names.append(f"{P.EN_BRANDS[en[k]]} {w} Ltd")
            domains.append(f"{P.EN_BRANDS[en[k]]}{w}.com".lower().replace(" ", ""))
        else:
            w = spec[2][int(word[k] * len(spec[2]))]
            names.append(f"{P.CHINA_CITIES[city[k]][3]}{P.BRANDS[brand[k]][0]}{w}有限公司")
            domains.append(f"{P.BRANDS[brand[k]][1]}{k % 97}.cn")
    return pd.DataFrame({"name": names, "domain": domains, "intl": intl})
