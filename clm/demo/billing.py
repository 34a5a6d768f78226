"""What the contracts come to on paper: invoices from each contract's MRR schedule (prorated
when seats or an add-on are added), payments, and the frames of subscriptions, their changes,
orders, products and opportunities with their stage history. A mixin of clm.demo.world.World,
after clm.demo.contracts has drawn the contracts."""

import numpy as np
import pandas as pd

from clm.demo.base import NEVER, add_months, to_date
from clm.demo.contracts import ENDED, PLAN_INDEX, PRODUCT_INDEX, PRODUCTS, Contract


class Billing:
    def _commerce_frames(self):
        """Billing orders from each contract's MRR schedule, then the subscription and ledger frames."""
        r = self.rng("billing")
        by_account: dict[int, list[Contract]] = {}
        for c in self.contracts:
            by_account.setdefault(c.account, []).append(c)
        for i, contracts in by_account.items():
            mains = [c for c in contracts if c.product in PLAN_INDEX]
            addons = [c for c in contracts if c.product not in PLAN_INDEX]
            for main in mains:
                self._bill(i, main, addons, r)
        subs = pd.DataFrame(
            [(c.account, PRODUCT_INDEX[c.product], c.start, c.end if c.end < NEVER else -1, c.seats, c.mrr, c.status,
              c.auto_renew, c.end if (c.end < NEVER and not c.ended) else -1, c.cancelled_on, c.cancel_reason)
             for c in self.contracts],
            columns=["account_id", "product_id", "start_date", "end_date", "seats", "mrr", "status", "auto_renew",
                     "renewal_date", "cancelled_on", "cancel_reason"],
        )  # fmt: skip
        # a monthly (evergreen) contract renews on its next monthly anniversary
        end = to_date(self.E)
        for k in np.flatnonzero((subs["end_date"] < 0) & ~subs["status"].isin(ENDED)):
            start = to_date(subs.at[k, "start_date"])
            months = (end.year - start.year) * 12 + end.month - start.month
            nxt = add_months(subs.at[k, "start_date"], months)
            subs.at[k, "renewal_date"] = (
                nxt if nxt > self.E else add_months(subs.at[k, "start_date"], months + 1)
            )
        subs["external_id"] = self.ext("S", np.arange(len(subs)))
        subs["created_at"] = subs["start_date"] * 86400 + 2 * 3600
        subs["updated_at"] = (
            np.array([c.states[-1][0] for c in self.contracts], dtype=np.int64) * 86400 + 2 * 3600
        )
        self.frames["subscription"] = subs
        self.frames["subscription_change"] = pd.DataFrame(
            self.changes,
            columns=["subscription_id", "account_id", "effective_date", "kind", "mrr_before", "mrr_after",
                     "seats_before", "seats_after", "status_after", "note"],
        ).sort_values(["subscription_id", "effective_date"], kind="stable", ignore_index=True)  # fmt: skip
        # orders were drawn contract by contract: number them by account and date instead
        orders = pd.DataFrame(
            self.orders, columns=["account_id", "ordered_on", "amount", "cost", "subscription"]
        )
        lines = pd.DataFrame(
            self.lines, columns=["order_id", "line_no", "product_id", "quantity", "amount", "cost"]
        )
        order = np.lexsort((orders["ordered_on"].to_numpy(), orders["account_id"].to_numpy()))
        renumber = np.empty(len(order), dtype=np.int64)
        renumber[order] = np.arange(len(order))
        lines["order_id"] = renumber[lines["order_id"].to_numpy()]
        orders = orders.iloc[order].reset_index(drop=True)
        orders["external_id"] = self.ext("O", np.arange(len(orders)))
        self.frames["order"] = orders
        self.frames["order_line"] = lines.sort_values(["order_id", "line_no"], ignore_index=True)
        self.frames["product"] = pd.DataFrame(
            [(code, name, family, price, recurring) for code, name, family, price, recurring, _ in PRODUCTS],
            columns=["external_id", "name", "family", "list_price", "is_recurring"],
        )

    def _bill(self, i, main, addons, r):
        """Invoices for one main contract: each billing period in advance (main plan plus the
        add-ons live at that date), and a prorated invoice when seats or an add-on are added."""
        p = main.billing_months
        spans = []
        for n, (day, _, _, active) in enumerate(main.states):
            if active and (n == 0 or not main.states[n - 1][3]):
                spans.append([day, NEVER])
            elif not active and spans:
                spans[-1][1] = day
        first = True
        for begin, end in spans:
            stop = min(end, self.E + 1)
            k = 0
            bills = []
            while True:
                b = add_months(begin, p * k)
                if b >= stop:
                    break
                bills.append(b)
                k += 1
            for b in bills:
                lines = [(main.product, main_seats_at(main, b) * p, main.mrr_at(b) * p)]
                for a in addons:
                    if a.start <= b and a.mrr_at(b) > 0:
                        lines.append((a.product, p, a.mrr_at(b) * p))
                if first and begin == main.start and r.random() < 0.45:
                    lines.append(("SVC-IMPL", 1, 18000 * self.size_factor[i] * self.discount[i]))
                first = False
                self._order(i, b, lines, main.id, r)
            # prorated invoices for mid-period increases
            for n in range(1, len(main.states)):
                day = main.states[n][0]
                if not (begin < day < stop) or day in bills:
                    continue
                delta = main.states[n][2] - main.states[n - 1][2]
                if delta > 0 and main.states[n - 1][3]:
                    nb = next((b for b in bills if b > day), add_months(day, p))
                    self._order(
                        i,
                        day,
                        [
                            (
                                main.product,
                                main.states[n][1] - main.states[n - 1][1],
                                delta * (nb - day) / 30.44,
                            )
                        ],
                        main.id,
                        r,
                    )
            for a in addons:
                if begin < a.start < stop and a.start not in bills:
                    nb = next((b for b in bills if b > a.start), add_months(a.start, p))
                    self._order(
                        i, a.start, [(a.product, 1, a.states[0][2] * (nb - a.start) / 30.44)], a.id, r
                    )

    def _payments(self):
        """One invoice per order: due after the payment terms, paid on time by most, late by some
        (more so while a customer declines), and a few never — still overdue at the end."""
        r = self.rng("payments")
        o = self.frames["order"]
        acct = o["account_id"].to_numpy()
        day = o["ordered_on"].to_numpy()
        n = len(o)
        net = np.where(self.kind[acct] == "txn", 15, np.where(self.employees[acct] > 2000, 60, 30))
        due = day + net
        f = self.decline_progress(acct, day)
        late = r.random(n) < np.clip(self.late_p[acct] * (1 + 2.5 * f) + 0.6 * f, 0, 0.95)
        paid = np.where(late, due + np.ceil(r.exponential(20 + 40 * self.late_p[acct])).astype(np.int64),
                        day + (r.random(n) * net).astype(np.int64) + 1)  # fmt: skip
        never = (late & (r.random(n) < 0.04)) | ((f > 0) & (r.random(n) < 0.3 * f))
        paid = np.where(never | (paid > self.E), -1, paid)
        self.frames["payment"] = pd.DataFrame({
            "account_id": acct, "order_id": np.arange(n), "subscription_id": o["subscription"].to_numpy(),
            "due_on": due, "paid_on": paid, "amount": o["amount"].to_numpy(),
            "status": np.where(paid >= 0, "paid", "open"), "external_id": self.ext("P", np.arange(n)),
        })  # fmt: skip

    def _opportunity_frames(self):
        cols = [
            "account_id",
            "name",
            "type",
            "stage",
            "amount",
            "expected_close",
            "closed_on",
            "lost_reason",
            "owner_kind",
            "created",
        ]
        opps = pd.DataFrame(self.opps, columns=cols)
        acct = opps["account_id"].to_numpy()
        opps.loc[(opps["owner_kind"] == "csm") & (self.csm[acct] < 0), "owner_kind"] = "sales"
        opps["owner_id"] = np.where(opps["owner_kind"] == "csm", self.csm[acct], self.sales_owner[acct])
        r = self.rng("opportunity-times")
        opps["created_at"] = self.stamp(opps["created"].to_numpy(), r)
        last = np.where(opps["closed_on"] >= 0, opps["closed_on"], np.minimum(self.E, opps["expected_close"]))
        opps["updated_at"] = self.stamp(np.maximum(last, opps["created"]), r)
        opps["external_id"] = self.ext("OP", np.arange(len(opps)))
        self.frames["opportunity"] = opps.drop(columns=["created", "owner_kind"])
        st = pd.DataFrame(
            self.stage_rows,
            columns=["opportunity_id", "from_stage", "to_stage", "day", "owner_kind", "account"],
        )
        kind = opps["owner_kind"].to_numpy()[st["opportunity_id"].to_numpy()]
        acc = st["account"].to_numpy()
        st["changed_by_id"] = np.where(kind == "csm", self.csm[acc], self.sales_owner[acc])
        # an hour apart at least, so stages on the same day keep their order
        step = st.groupby("opportunity_id").cumcount().to_numpy()
        st["changed_at"] = self.stamp(st["day"].to_numpy(), r, 9.0, 9.9) + step * 3600
        self.frames["stage_change"] = st.drop(columns=["day", "owner_kind", "account"])


def main_seats_at(contract: Contract, day) -> int:
    seats = contract.states[0][1]
    for start, s, _, _ in contract.states:
        if start > day:
            break
        seats = s
    return seats
