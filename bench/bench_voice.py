"""Surveys and membership at demo scale (600 accounts, 1,200 contacts).

1. Inviting every contact to a survey by link (tokens derived and hashed, rows and audit in bulk).
   Reference: bulk-creating the same number of plain survey responses, in the same run.
2. Answering one link (look-up by hash, lock, checks, the SurveyResponse through the write rules
   with its audit row, the invitation marked). Reference: creating one SurveyResponse through the
   same core service (what any imported answer costs). Target: under 3× the reference.
3. Every account's membership (tier, since when, tier lost) from a year of weekly tier history
   (31,200 rows). Reference: reading those rows alone. Target: under 3× the reference.

    python bench/bench_voice.py
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/survey python bench/bench_voice.py
"""

import datetime as dt
import statistics
import sys
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import setup_django, summary, timed  # noqa: E402

ACCOUNTS, WEEKS = 600, 52


def build():
    from clm.customers.models import Account, Contact
    from clm.value.models import TierAssignment

    accounts = Account.objects.bulk_create([Account(name=f"Account {i}") for i in range(ACCOUNTS)])
    Contact.objects.bulk_create([Contact(account=a, name=f"C{a.pk}-{k}", role="decision_maker")
                                 for a in accounts for k in range(2)])
    today = dt.date.today()
    TierAssignment.objects.bulk_create([
        TierAssignment(account=a, as_of=today - dt.timedelta(weeks=WEEKS - w), tier="key" if w > (a.pk % WEEKS) else "growth",
                       tier_label="Key", tenure_years=1.0, total_revenue=Decimal("1"))
        for a in accounts for w in range(WEEKS)], batch_size=5000)
    return accounts


def main():
    label = setup_django("voice")
    from django.utils import timezone

    from clm.core import services
    from clm.customers.models import Contact
    from clm.service import surveys
    from clm.service.models import Survey, SurveyResponse
    from clm.value.models import TierAssignment
    from clm.value.services import benefits

    accounts = build()
    contacts = list(Contact.objects.all())
    survey = Survey.objects.create(name="NPS", kind="nps", question_zh="推荐？", question_en="Recommend?")
    print(f"{label}: {len(accounts)} accounts, {len(contacts)} contacts")

    invite = timed(lambda: surveys.invite(None, survey, contacts, channel="link"), 1)[0]
    reference = timed(lambda: SurveyResponse.objects.bulk_create(
        [SurveyResponse(account_id=c.account_id, contact=c, score=9, responded_at=timezone.now()) for c in contacts]), 1)[0]
    print(f"1. invite {len(contacts)} contacts by link: {invite:.0f} ms; reference bulk insert {reference:.0f} ms; "
          f"ratio {invite / reference:.1f}×")

    tokens = iter([surveys.token_for(i) for i in survey.invitations.all()])
    answers = timed(lambda: surveys.answer(next(tokens), 7, "ok"), 200)
    account = accounts[0]
    plain = timed(lambda: services.create(SurveyResponse, {
        "account": account, "kind": "nps", "score": 7, "responded_at": timezone.now()}), 200)
    ratio = statistics.median(answers) / statistics.median(plain)
    print(f"2. answer one link: {summary(answers)}; reference create one response: {summary(plain)}; "
          f"ratio {ratio:.1f}× (target < 3×)")

    ids = [a.pk for a in accounts]
    member = timed(lambda: benefits.memberships(ids), 5)
    rows = timed(lambda: list(TierAssignment.objects.filter(account_id__in=ids).order_by("account_id", "as_of")
                              .values_list("account_id", "as_of", "tier", "tier_label", "segment")), 5)
    ratio = statistics.median(member) / statistics.median(rows)
    print(f"3. memberships of {len(ids)} accounts ({len(ids) * WEEKS} tier rows): {summary(member)}; "
          f"reference read the rows: {summary(rows)}; ratio {ratio:.1f}× (target < 3×)")


if __name__ == "__main__":
    main()
