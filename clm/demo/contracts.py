"""What each customer did with us, as money: the contract path of a subscription customer
(renewals, seat expansions, add-ons, contractions, churn at a term's end or mid-term, a return),
the repeat orders of a non-contract buyer until it falls dormant (and sometimes wakes), the lost or
open deals of prospects; then invoices from each contract's MRR schedule, payments, and the
opportunities with their stage history (the invoices, payments and frames are in
clm.demo.billing). A mixin of clm.demo.world.World."""

import numpy as np

from clm.demo import names as P
from clm.demo.base import NEVER, add_months, to_date, weights

ENDED = ("cancelled", "expired")
STAGES = ["qualify", "discovery", "proposal", "negotiation"]
PLAN_INDEX = {p[0]: i for i, p in enumerate(P.PLANS)}
PRODUCTS = [p[:6] for p in P.PLANS] + [a[:6] for a in P.ADDONS] + list(P.ONE_OFF)
PRODUCT_INDEX = {p[0]: i for i, p in enumerate(PRODUCTS)}
COST_RATIO = {p[0]: p[5] for p in PRODUCTS}
CAUSES = list(P.CHURN_CAUSES)


class Contract:
    """One subscription and its ledger, changed only through `set`, which classifies each change
    as clm.commerce.services.classify_change does."""

    def __init__(self, world, account, product, start, seats, mrr, end, auto_renew, billing_months):
        self.world = world
        self.id = len(world.contracts)
        world.contracts.append(self)
        self.account, self.product, self.start = account, product, start
        self.seats, self.mrr, self.end, self.status = seats, mrr, end, "active"
        self.auto_renew, self.billing_months = auto_renew, billing_months
        self.cancelled_on, self.cancel_reason = -1, ""
        self.states = [(start, seats, mrr, True)]
        self.feature_span: list | None = None  # an add-on's [account, feature, start, end] of use
        world.changes.append((self.id, account, start, "new", 0.0, mrr, 0, seats, "active", ""))

    def set(self, day, *, seats=None, mrr=None, status=None, end=None, note=""):
        seats = self.seats if seats is None else seats
        mrr = self.mrr if mrr is None else round(mrr, 2)
        status = self.status if status is None else status
        end = self.end if end is None else end
        was_ended, is_ended = self.status in ENDED, status in ENDED
        if not was_ended and is_ended:
            kind = "churn"
        elif was_ended and not is_ended:
            kind = "reactivation"
        elif mrr > self.mrr:
            kind = "expansion"
        elif mrr < self.mrr:
            kind = "contraction"
        elif end != self.end:
            kind = "renewal"
        elif seats != self.seats or status != self.status:
            kind = "other"
        else:
            return
        before = 0.0 if was_ended else self.mrr
        after = 0.0 if is_ended else mrr
        self.world.changes.append(
            (self.id, self.account, day, kind, before, after, self.seats, seats, status, note)
        )
        self.seats, self.mrr, self.status, self.end = seats, mrr, status, end
        self.states.append((day, seats, mrr, not is_ended))

    def mrr_at(self, day) -> float:
        value = 0.0
        for start, _, mrr, active in self.states:
            if start > day:
                break
            value = mrr if active else 0.0
        return value

    @property
    def ended(self) -> bool:
        return self.status in ENDED

    def close_feature_span(self, day) -> None:
        if self.feature_span is not None:
            self.feature_span[3] = day


class Contracts:
    def _paths(self):
        r = self.rng("paths")
        for i in range(self.N):
            if self.kind[i] == "sub":
                self._subscription_path(i, r)
            elif self.kind[i] == "txn":
                self._repeat_buyer_path(i, r)
            else:
                self._prospect_path(i, r)
        # temporary dips that recover: the false alarms an early warning must live with
        calm = (self.kind != "prospect") & (self.decline_from > self.E) & (r.random(self.N) < 0.1)
        for i in np.flatnonzero(calm):
            lo = max(self.S, self.first_start[i] + 120)
            if lo < self.E - 60:
                begin = int(r.integers(lo, self.E - 30))
                self.dip[i] = (begin, begin + int(r.integers(30, 76)))
                self.dip_depth[i] = r.uniform(0.35, 0.6)

    def _subscription_path(self, i, r):
        S, E = self.S, self.E
        start = int(self.first_start[i])
        monthly = self.seats0[i] < 10 and r.random() < 0.45 and self.cohort[i] != "lapsed"
        term = 1 if monthly else (24 if r.random() < 0.12 else 12)
        billing = 1 if monthly else (3 if r.random() < 0.3 else 12)
        plan = P.PLANS[self.plan[i]]
        unit = plan[3] * self.discount[i]
        seats = int(self.seats0[i])
        q = self.churn_q[i]
        q_term = 1 - (1 - q) ** (term / 12)

        # how many terms it stays (geometric), conditioned on what the cohort says it did
        ends = add_months(start, term * np.arange(1, 400))
        if self.cohort[i] == "lapsed":
            ok = np.flatnonzero((ends >= S - 540) & (ends <= S - 30))
            k = int(ok[r.integers(len(ok))]) if len(ok) else 0
        else:
            k = int(r.geometric(q_term)) - 1
            if self.cohort[i] == "base_sub":
                k_min = int(np.searchsorted(ends, S + 30))
                if k < k_min:
                    k = k_min + int(r.geometric(q_term)) - 1
        term_end_k = int(ends[min(k, len(ends) - 1)])
        cancelled = term > 1 and r.random() < 0.12
        if cancelled:
            prev_end = int(ends[k - 1]) if k else start
            churn = max(prev_end + 30, term_end_k - int(r.integers(30, 151)))
        else:
            churn = term_end_k
        cause = CAUSES[r.choice(len(CAUSES), p=weights([c[0] for c in P.CHURN_CAUSES.values()]))]
        if churn - start < 400 and r.random() < 0.35:
            cause = "low_adoption"
        lo_days, hi_days = P.CHURN_CAUSES[cause][2]
        decline_from = max(churn - int(r.integers(lo_days, hi_days + 1)), start + 45)
        if cause == "low_adoption":
            self.low_adoption[i] = True
        self.latent_churn[i] = churn
        if decline_from <= E:
            self.decline_from[i], self.decline_to[i] = decline_from, churn
            self.decline_depth[i] = r.uniform(0.8, 0.95)
            self.cause[i] = cause

        main = Contract(
            self,
            i,
            plan[0],
            start,
            seats,
            round(seats * unit, 2),
            NEVER if monthly else add_months(start, term),
            monthly or r.random() < 0.3,
            billing,
        )
        self.seat_points.append((i, start, seats))
        self.segments.append((i, start, churn))
        self.main_mrr[i] = main.mrr
        self._opp(
            i,
            "new",
            f"新购 {plan[1].split('（')[0]}",
            main.mrr * max(term, 12),
            start - int(self.cycle[i]),
            start,
            "won",
            r,
        )

        # add-ons (cross-sell), co-termed with the main contract
        addons = []
        for code, _, _, price, _, _, industries, take in P.ADDONS:
            if industries and self.industry[i] not in industries:
                continue
            if r.random() < take * (0.5 + self.fit[i]):
                when = start + int(r.integers(60, 600))
                if when < min(decline_from, churn) - 30 and when <= E:
                    addons.append((when, code, round(price * self.size_factor[i] * self.discount[i], 2)))

        # mid-term seat expansions, a Poisson process while healthy
        events = []
        t = start + 60
        while True:
            t += int(r.exponential(365 / max(self.expand_rate[i], 1e-3)))
            if t >= min(decline_from, churn) or t > E:
                break
            events.append((t, "expand"))
        for when, code, price in addons:
            events.append((when, "addon", code, price))
        if not monthly:
            for k_end in ends:
                if k_end >= churn or k_end > E:
                    break
                events.append((int(k_end), "renew"))
        if churn <= E:
            events.append((churn, "churn"))
        events.sort(key=lambda e: (e[0], e[1] != "renew"))

        live_addons: list[Contract] = []
        for ev in events:
            day, what = ev[0], ev[1]
            if what == "expand" and main.seats < 999:
                added = max(1, min(round(main.seats * r.uniform(0.1, 0.4)), 999 - main.seats))
                main.set(
                    day, seats=main.seats + added, mrr=(main.seats + added) * unit, note=f"增购 {added} 席位"
                )
                self.seat_points.append((i, day, main.seats))
                self.expansions[i] += 1
                self._opp(
                    i,
                    "expansion",
                    f"增购 {added} 席位",
                    added * unit * 12,
                    day - int(r.integers(15, 61)),
                    day,
                    "won",
                    r,
                )
            elif what == "addon":
                code, price = ev[2], ev[3]
                a = Contract(self, i, code, day, 1, price, main.end, main.auto_renew, billing)
                live_addons.append(a)
                feature = next((f[0] for f in P.FEATURES if f[5] == code), None)
                if feature:
                    a.feature_span = [i, feature, day, NEVER]
                    self.addon_spans.append(a.feature_span)
                self._opp(
                    i,
                    "expansion",
                    f"交叉销售 {_product_name(code)}",
                    price * 12,
                    day - int(r.integers(20, 75)),
                    day,
                    "won",
                    r,
                )
            elif what == "renew":
                new_end = add_months(day, term)
                in_decline = day >= decline_from
                u = r.random()
                if in_decline and u < 0.6 or not in_decline and u < self.contract_p[i]:
                    new_seats = max(1, round(main.seats * r.uniform(0.6, 0.85)))
                    self.contractions[i] += 1
                elif not in_decline and u > 1 - 0.35 * self.fit[i]:
                    new_seats = min(999, main.seats + max(1, round(main.seats * r.uniform(0.1, 0.4))))
                    self.expansions[i] += 1
                else:
                    new_seats = main.seats
                main.set(day, seats=new_seats, mrr=new_seats * unit, end=new_end, note="续约")
                self.seat_points.append((i, day, new_seats))
                self._opp(i, "renewal", f"{to_date(day).year} 续约", main.mrr * term, day - 90, day, "won", r)
                for a in live_addons:
                    if a.ended:
                        continue
                    if in_decline and r.random() < 0.5:
                        a.set(day, status="expired", end=day, note="续约时未续订模块")
                        a.close_feature_span(day)
                    else:
                        a.set(day, end=new_end, note="随主合同续约")
            elif what == "churn":
                status = "cancelled" if cancelled or monthly else "expired"
                reason = P.CHURN_CAUSES[cause][1]
                for c in [main, *live_addons]:
                    if not c.ended:
                        c.set(day, status=status, end=day, note=reason)
                        c.cancel_reason = reason
                        if status == "cancelled":
                            c.cancelled_on = day
                        c.close_feature_span(day)
                self.churn_day[i] = day
                if not cancelled and not monthly:
                    self._opp(
                        i,
                        "renewal",
                        f"{to_date(day).year} 续约",
                        main.mrr * term,
                        day - 90,
                        day,
                        "lost",
                        r,
                        reason=reason,
                    )

        if churn > E and not monthly:
            nxt = int(ends[np.searchsorted(ends, E, side="right")])
            if nxt - 90 <= E:
                self._opp(
                    i, "renewal", f"{to_date(nxt).year} 续约", main.mrr * term, nxt - 90, nxt, "open", r
                )

        # some churned customers come back
        back = self.churn_day[i] >= 0 and r.random() < (
            0.45 if self.cohort[i] == "lapsed" else P.CHURN_CAUSES[cause][6]
        )
        if back:
            if self.cohort[i] == "lapsed":
                ret = int(r.integers(S + 20, max(S + 21, E - 9)))
            else:
                ret = churn + int(r.integers(90, 401))
            if ret - churn >= 60 and ret <= E - 7:
                self._return(i, main, ret, unit, term, billing, r)

    def _return(self, i, main, ret, unit, term, billing, r):
        """A churned customer signs again: the old contract is reactivated, or a new one is signed."""
        seats = min(999, max(2, round(main.seats * r.uniform(0.6, 1.1))))
        self.returned[i] = ret
        if r.random() < 0.5:
            main.set(
                ret,
                seats=seats,
                mrr=seats * unit,
                status="active",
                end=add_months(ret, max(term, 12)),
                note="客户回流，合同重新生效",
            )
            main.cancelled_on, main.cancel_reason = -1, ""
            contract = main
        else:
            contract = Contract(
                self,
                i,
                main.product,
                ret,
                seats,
                round(seats * unit, 2),
                add_months(ret, max(term, 12)),
                False,
                max(billing, 3),
            )
        self.seat_points.append((i, ret, seats))
        self.segments.append((i, ret, NEVER))
        self._opp(i, "new", "回流签约", contract.mrr * 12, ret - int(r.integers(30, 90)), ret, "won", r)
        t = ret
        while True:
            t = add_months(t, 12)
            if t > self.E:
                break
            contract.set(t, end=add_months(t, 12), note="续约")
            self._opp(i, "renewal", f"{to_date(t).year} 续约", contract.mrr * 12, t - 90, t, "won", r)

    def _repeat_buyer_path(self, i, r):
        """A non-contract customer: a perpetual licence, then repeat orders of packs and services,
        until it quietly stops (dormant) — and sometimes wakes up again."""
        S, E = self.S, self.E
        start = int(self.first_start[i])
        size = self.size_factor[i]
        disc = self.discount[i]
        lines = [("LIC-PERP", 1, 60000 * size * disc)]
        if r.random() < 0.5:
            lines.append(("SVC-IMPL", 1, 18000 * size * disc))
        self._order(i, start, lines, -1, r)
        self._opp(
            i, "new", "私有化部署采购", sum(x[2] for x in lines), start - self.cycle[i], start, "won", r
        )
        users = int(np.clip(round(self.seats0[i] * 0.8), 2, 60))
        self.seat_points.append((i, start, users))
        mean_gap = r.uniform(45, 140)
        p_die = r.beta(1.2, 8)
        spend = r.lognormal(np.log(6000 * size), 0.4)
        t, origin, last_order = start, start, start
        dormant = -1
        while True:
            t += max(7, int(r.gamma(2.0, mean_gap / 2)))
            if t > E:
                break
            dies = r.random() < p_die and not (self.cohort[i] == "base_txn" and t < S + 60)
            if dies:
                dormant = last_order + int(r.integers(20, 91))
                if dormant > E:
                    break
                self.segments.append((i, origin, dormant))
                self.decline_from[i], self.decline_to[i] = last_order, dormant
                self.decline_depth[i] = 0.9
                self.dormant[i] = dormant
                if r.random() >= 0.35:
                    return
                ret = dormant + int(r.integers(90, 361))
                if ret > E - 7:
                    return
                self.returned[i] = ret
                origin = t = last_order = ret
                self._order(
                    i, ret, [("PACK-CREDIT", 2, 2 * 5000 * disc), ("SVC-TRAIN", 1, 3000 * disc)], -1, r
                )
                self._opp(
                    i, "new", "休眠唤醒采购", 13000 * disc, ret - int(r.integers(20, 60)), ret, "won", r
                )
                p_die = 0.0  # woken once, it stays
                continue
            if r.random() < 0.15:
                days = int(r.integers(1, 4))
                lines = [("SVC-TRAIN", days, days * 3000 * disc)]
            elif t - start > 330 and r.random() < 0.25:
                lines = [("SVC-MAINT", 1, 12000 * size * disc)]
            else:
                packs = max(1, round(spend * r.lognormal(0, 0.3) / 5000))
                lines = [("PACK-CREDIT", packs, packs * 5000 * disc)]
            self._order(i, t, lines, -1, r)
            last_order = t
        self.segments.append((i, origin, NEVER))

    def _prospect_path(self, i, r):
        created = int(self.lead_day[i] + self.to_sql[i])
        close = int(self.close_day[i])
        amount = round(self.seats0[i] * P.PLANS[self.plan[i]][3] * self.discount[i] * 12, -2)
        if self.pipeline[i] or close > self.E:
            self._opp(i, "new", "新购 云帆工作台", amount, created, max(close, self.E + 7), "open", r)
        else:
            reason = P.LOST_REASONS[r.choice(len(P.LOST_REASONS), p=weights(P.LOST_WEIGHTS))]
            self._opp(i, "new", "新购 云帆工作台", amount, created, close, "lost", r, reason=reason)

    # ---------------------------------------------------------------- orders, opportunities
    def _order(self, i, day, lines, contract, r):
        order = len(self.orders)
        amount = cost = 0.0
        for n, (code, qty, value) in enumerate(lines, start=1):
            value = round(float(value), 2)
            c = round(value * COST_RATIO[code] * r.uniform(0.85, 1.15), 2)
            self.lines.append((order, n, PRODUCT_INDEX[code], float(qty), value, c))
            amount += value
            cost += c
        self.orders.append((i, day, round(amount, 2), round(cost, 2), contract))
        return order

    def _opp(self, i, kind, label, amount, created, closed, outcome, r, reason=""):
        """An opportunity with its stage history: won goes through every stage, lost stops at one,
        open stands at one as of the end of the simulated period."""
        opp = len(self.opps)
        created = min(created, closed - 1)
        if outcome == "won":
            reached = 4
        elif outcome == "lost":
            reached = int(r.integers(1, 5))
        else:
            reached = int(np.clip(np.ceil(4 * (self.E - created) / max(closed - created, 1)), 1, 4))
        last = closed if outcome != "open" else max(self.E, created + 1)
        cuts = np.sort(r.uniform(created, last, reached - 1)).astype(np.int64) if reached > 1 else []
        days = [created, *cuts]
        owner = "csm" if kind == "renewal" else "sales"
        previous = ""
        for stage, day in zip(STAGES[:reached], days, strict=True):
            self.stage_rows.append((opp, previous, stage, int(day), owner, i))
            previous = stage
        final = STAGES[reached - 1]
        if outcome != "open":
            final = outcome
            self.stage_rows.append((opp, previous, outcome, int(closed), owner, i))
        name = f"{self._short_name(i)} - {label}"
        self.opps.append(
            (
                i,
                name[:200],
                kind,
                final,
                round(float(amount), 2),
                int(closed),
                int(closed) if outcome != "open" else -1,
                reason,
                owner,
                int(created),
            )
        )

    def _short_name(self, i):
        name = self.names[i]
        for suffix in ("集团有限公司", "股份有限公司", "有限公司"):
            name = name.removesuffix(suffix)
        return name

def _product_name(code: str) -> str:
    return PRODUCTS[PRODUCT_INDEX[code]][1]
