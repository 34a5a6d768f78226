"""Plays in the demo world: the simulated company's CSMs carry out the work the playbooks give them,
and that work changes what happens to the customers, so that CLM's uplift report has a known
effect to recover.

How the world sees the plays. `clm demo` replays the past year date by date (every REPLAY_DAYS
days): the daily lifecycle run as of each date, whose finished event runs the playbook engine as of
that date (clm.automation.playbooks.dispatch.run_moment), so enrollments, cases and tasks happen on
the simulated timeline. Each task a playbook gives a CSM is done with probability TASK_COMPLETION,
0 to MAX_DELAY_DAYS days after it was made, through the same service a CSM's click calls (its case
is then being worked on). Held-out accounts get no task, hence no help.

What the work does. Completed work on an account whose drawn story ends in churn, done before that
churn, averts the churn with probability SAVE_SHARE: from the day of the work the account stops
declining and recovers (clm.demo.world.RECOVERY_DAYS), its contracts renew on the day they would
have ended and every year after, and what followed the churn in its story (a return) does not
happen. Its usage from that day on is drawn again from the same usage model with the changed
state; the ground truth records the save. Nothing else about how customers behave changes: an
account that was not going to churn gains nothing, and work on held-out accounts never happens.

SAVE_SHARE = 0.35: the share of at-risk customers that a CSM's call wins back, from published
customer-success figures — a CSM call within 48 hours recovers 30–40% of NPS detractors
(ChurnTools, "5 CS plays that move retention numbers", churntools.com/for-customer-success), and
saves attempted only at the moment of cancellation recover around 20% (Upollo, "How to reduce
customer churn: tactics for customer success", upollo.ai/blog). These are practitioners' figures,
not controlled trials; the point is that the uplift report recovers whatever the true effect is.
TASK_COMPLETION = 0.7 is an assumption (we found no published benchmark of CSM task completion):
most play tasks are done, some are dropped when the week is full."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import numpy as np
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from clm.automation import work
from clm.automation.models import Case, Enrollment, Playbook, StepRun, Task
from clm.automation.playbooks import dispatch, outcomes
from clm.commerce.models import Subscription, SubscriptionChange
from clm.demo import simulator, writer
from clm.demo.base import NEVER, add_months, day_number, iso, stream, to_date
from clm.demo.models import TrueState
from clm.demo.usage import UsageModel
from clm.demo.world import World
from clm.usage.models import UsageDaily, UsageDailyUser, UsageEvent, UsageFeatureDaily

REPLAY_DAYS = 14
SAVE_SHARE = 0.35
TASK_COMPLETION = 0.7
MAX_DELAY_DAYS = 10
DEMO_PLAYBOOKS = {"health-red-winback": 0.5}  # the plays `clm demo` turns on, with their holdout
WORK_DONE_AT = dt.time(16, 0)
SAVED_NOTE = "挽回成功，续约"


def replay_dates(as_of: dt.date, days: int = 364) -> list[dt.date]:
    """Every REPLAY_DAYS days over the past year up to a week before as_of (so that signals which
    held for a week are confirmed today), then as_of."""
    last = as_of - dt.timedelta(days=7)
    steps = days // REPLAY_DAYS
    return [last - dt.timedelta(days=REPLAY_DAYS * k) for k in range(steps, -1, -1)] + [as_of]


@dataclass(frozen=True)
class Job:
    task_id: int
    account: int  # the world's local number
    day: int  # day number on which the CSM does it
    saves: bool  # whether it wins the customer back, if its story ends in churn after that day
    playbook: str


class Plays:
    """The CSMs' side of the replay: call `before(day)` before the daily run as of a day and
    `after(day)` after it."""

    def __init__(self, world: World, account_ids: np.ndarray):
        self.w = world
        self.ids = np.asarray(account_ids, dtype=np.int64)
        self.local = {int(a): i for i, a in enumerate(self.ids)}
        self.jobs: list[Job] = []
        self.saved: dict[int, tuple[int, str]] = {}  # local account -> (day, playbook key)
        self.done = 0
        self._marks: dict[type, int] = {}
        self._real = timezone.now()

    # -- the replay -------------------------------------------------------------------------------

    def before(self, day: dt.date) -> None:
        """Do the work due by ``day`` (and what it changes), then note where the tables stand."""
        self._work(day_number(day))
        self._marks = {
            model: model.objects.aggregate(top=Max("pk"))["top"] or 0
            for model in (Enrollment, StepRun, Task, Case)
        }
        self._real = timezone.now()

    def after(self, day: dt.date) -> None:
        """Move what the run made onto the simulated timeline and plan the CSMs' work on its tasks."""
        moment = dispatch.run_moment(day)
        if moment is None:
            return  # today's run: what it made is dated now, and the work is still to do
        self._restamp(moment - self._real)
        made = list(
            Task.objects.filter(
                pk__gt=self._marks[Task], enrollment_id__isnull=False, account_id__in=self.local
            ).values_list("pk", "account_id", "enrollment_id")
        )
        keys = dict(
            Enrollment.objects.filter(pk__in=[e for *_, e in made]).values_list("pk", "playbook__key")
        )
        seen: dict[tuple, int] = {}
        for task_id, account_id, enrollment_id in made:
            # drawn per account, day and playbook (not per row id), so a rerun draws the same work
            what = (keys[enrollment_id], self.local[account_id], day_number(day))
            seen[what] = seen.get(what, -1) + 1
            r = stream(self.w.spec.seed, "play-work:" + ":".join(map(str, (*what, seen[what]))))
            done, delay, luck = (
                r.random() < TASK_COMPLETION,
                int(r.integers(0, MAX_DELAY_DAYS + 1)),
                r.random(),
            )
            if done:
                job = Job(task_id, what[1], what[2] + delay, luck < SAVE_SHARE, what[0])
                self.jobs.append(job)

    def _restamp(self, shift: dt.timedelta) -> None:
        """The engine stamps what it writes with the clock; the replay moves it to the replayed day."""
        marks, since = self._marks, self._real - dt.timedelta(seconds=1)

        def moved(value):
            return value + shift if value is not None and value >= since else value

        for model, fields in (
            (Task, ["created_at", "due_at", "completed_at"]),
            (Case, ["created_at", "closed_at"]),
            (StepRun, ["started_at", "finished_at", "due_at"]),
            (Enrollment, ["started_at", "ended_at"]),
        ):
            rows = list(model.objects.filter(pk__gt=marks[model]))
            for row in rows:
                for name in fields:
                    setattr(row, name, moved(getattr(row, name)))
                if model is Case and row.due_on is not None:
                    row.due_on = row.due_on + dt.timedelta(days=round(shift / dt.timedelta(days=1)))
            model.objects.bulk_update(rows, [*fields, "due_on"] if model is Case else fields, batch_size=500)

    def _work(self, today: int) -> None:
        due = sorted((j for j in self.jobs if j.day <= today), key=lambda j: (j.day, j.task_id))
        self.jobs = [j for j in self.jobs if j.day > today]
        saves = []
        for job in due:
            task = Task.objects.select_related("assignee").filter(pk=job.task_id).first()
            if task is None or not task.is_open:
                continue
            work.complete_task(task.assignee, task, outcome="已电话沟通", via="demo")
            at = timezone.make_aware(dt.datetime.combine(to_date(job.day), WORK_DONE_AT))
            Task.objects.filter(pk=task.pk).update(completed_at=at)
            self.done += 1
            w, i = self.w, job.account
            if (
                job.saves
                and w.kind[i] == "sub"
                and w.latent_churn[i] > job.day
                and i not in self.saved
                and all(i != s[0] for s in saves)
            ):
                saves.append((i, job.day, job.playbook))
        if saves:
            self._save(saves)

    # -- what a save changes ----------------------------------------------------------------------

    def _save(self, saves: list[tuple[int, int, str]]) -> None:
        w = self.w
        with transaction.atomic():
            for i, day, key in saves:
                churn = int(w.latent_churn[i])
                self.saved[i] = (day, key)
                w.saved_on[i] = day
                w.segments = [
                    (a, origin, NEVER if a == i else end)
                    for a, origin, end in w.segments
                    if a != i or origin < churn
                ]
                for span in w.addon_spans:
                    if span[0] == i and span[3] == churn:
                        span[3] = NEVER
                if churn <= w.E:
                    self._renew_instead(int(self.ids[i]), churn)
                self._record_truth(i, day, key)
            by_day: dict[int, list[int]] = {}
            for i, day, _ in saves:
                by_day.setdefault(day + 1, []).append(i)
            usage = UsageModel(w)
            for since, accounts in sorted(by_day.items()):
                self._redraw_usage(usage, np.array(accounts), since)

    def _renew_instead(self, account_id: int, churn: int) -> None:
        """The contracts that ended on the churn day renew instead, then every year to the end."""
        on = to_date(churn)
        ended = list(
            SubscriptionChange.objects.filter(
                account_id=account_id, effective_date=on, kind="churn"
            ).values_list("subscription_id", flat=True)
        )
        Subscription.objects.filter(account_id=account_id, start_date__gt=on).delete()  # a return's contract
        SubscriptionChange.objects.filter(account_id=account_id, effective_date__gte=on).delete()
        changes = []
        for sub in Subscription.objects.filter(pk__in=ended):
            last = sub.changes.order_by("effective_date", "id").last()
            mrr, seats = (last.mrr_after, last.seats_after) if last else (sub.mrr, sub.seats)
            renewal = churn
            while renewal <= self.w.E:
                changes.append(
                    SubscriptionChange(
                        subscription=sub, account_id=account_id, effective_date=to_date(renewal), kind="renewal",
                        mrr_before=mrr, mrr_after=mrr, seats_before=seats, seats_after=seats,
                        status_after=Subscription.Status.ACTIVE, note=SAVED_NOTE,
                    )
                )  # fmt: skip
                renewal = int(add_months(renewal, 12))
            sub.status, sub.mrr, sub.seats = Subscription.Status.ACTIVE, mrr, seats
            sub.end_date = sub.renewal_date = to_date(renewal)
            sub.cancelled_on, sub.cancel_reason = None, ""
            sub.save(
                update_fields=[
                    "status",
                    "mrr",
                    "seats",
                    "end_date",
                    "renewal_date",
                    "cancelled_on",
                    "cancel_reason",
                ]
            )
        SubscriptionChange.objects.bulk_create(changes)

    def _redraw_usage(self, usage: UsageModel, accounts: np.ndarray, since: int) -> None:
        if since > self.w.E:
            return
        ids = [int(a) for a in self.ids[accounts]]
        first = to_date(since)
        for model in (UsageDaily, UsageFeatureDaily, UsageDailyUser):
            model.objects.filter(account_id__in=ids, day__gte=first).delete()
        midnight = timezone.make_aware(dt.datetime.combine(first, dt.time()))
        UsageEvent.objects.filter(account_id__in=ids, occurred_at__gte=midnight).delete()
        simulator._write_usage(
            self.w, usage, writer.Loader(), self.ids, lambda f, label: None, simulator.Laps(),
            only=accounts, since=since, stream=f"usage-saved-{since}",
        )  # fmt: skip

    def _record_truth(self, i: int, day: int, key: str) -> None:
        truth = TrueState.objects.get(account_id=int(self.ids[i]))
        truth.propensities = {**truth.propensities, "saved_on": iso(day), "saved_by": key}
        if truth.churn_date is not None:
            truth.archetype, truth.churn_date, truth.churn_cause, truth.returned_on = "saved", None, "", None
        truth.save(update_fields=["propensities", "archetype", "churn_date", "churn_cause", "returned_on"])


def simulated_effect(playbook: Playbook, as_of: dt.date | None = None) -> dict:
    """The effect the simulator put into the world, over the enrollments the uplift report counts:
    the share of treated enrollments whose account would have churned within the outcome window
    (its drawn story) and did not because this playbook's work saved it first. What the report estimates by
    comparing treated with held-out accounts, read here from the ground truth."""
    frame = outcomes.outcome_frame(playbook, as_of)
    treated = frame[~frame["held_out"].astype(bool)] if len(frame) else frame
    truth = {
        account: json.loads(p) if isinstance(p, str) else p
        for account, p in TrueState.objects.filter(
            account_id__in=list(treated["account"].dropna())
        ).values_list("account_id", "propensities")
    }
    averted = 0
    for account, start, end in zip(treated["account"], treated["start"], treated["end"], strict=True):
        p = truth.get(int(account), {})
        churn, saved = p.get("latent_churn_date"), p.get("saved_on")
        mine = p.get("saved_by") == playbook.key
        if mine and churn and saved and saved < churn and start.isoformat() < churn <= end.isoformat():
            averted += 1
    return {
        "treated": len(treated),
        "averted": averted,
        "effect": averted / len(treated) if len(treated) else None,
    }
