"""The demo company's customer voice (clm.demo.feedback) and membership (clm.demo.membership): surveys whose answered invitations are
the simulated customers' own answers, open and reminded ones beside them, forms with rules and a
year of submissions in every status; built fast, and once."""

import time

import pytest

from clm.core.models import User
from clm.demo import feedback
from clm.service import surveys
from clm.service.models import FeedbackForm, FeedbackSubmission, Survey, SurveyInvitation, SurveyResponse

from .conftest import AS_OF

pytestmark = pytest.mark.django_db


def test_the_demo_has_surveys_answered_and_open_and_feedback_in_every_status(company):
    admin = User.objects.get(username="admin")  # the demo's
    started = time.perf_counter()
    written = feedback.build(AS_OF)
    took = time.perf_counter() - started
    assert took < 10, took
    assert written["surveys"] == 2 and written["forms"] == 2 and written["submissions"] == 90
    answered = SurveyInvitation.objects.exclude(answered_at=None)
    assert answered.count() > 0 and SurveyInvitation.objects.filter(answered_at=None).count() > 0
    # every answered invitation is one of the simulator's answers, now carrying its survey
    assert SurveyResponse.objects.filter(invitation__in=answered).exclude(survey=None).count() == answered.count()
    rates = surveys.response_rates(admin)
    nps = Survey.objects.get(kind="nps")
    assert 0 < rates[nps.pk]["rate"] < 1 and rates[nps.pk]["reminded"] > 0
    statuses = set(FeedbackSubmission.objects.values_list("status", flat=True))
    assert statuses == {"new", "acknowledged", "planned", "done", "declined"}
    assert not FeedbackSubmission.objects.filter(status__in=("done", "declined"), reply="").exists()
    assert FeedbackForm.objects.get(key="product-feedback").rules.count() >= 2
    assert feedback.build(AS_OF)["submissions"] == 0  # once


def test_the_demo_has_tier_benefits_and_coupons_used_by_eligible_accounts(company):
    from clm.commerce.models import CouponRedemption
    from clm.demo import membership
    from clm.value.models import TierAssignment, TierBenefit
    from clm.value.services import recompute

    if not TierAssignment.objects.exists():  # the tiers the daily run would have written
        recompute(AS_OF)
    written = membership.build(AS_OF)
    assert written["coupons"] == 3 and TierBenefit.objects.count() == 4
    used = CouponRedemption.objects.select_related("coupon")
    assert used.count() == written["redemptions"] > 0
    assert all(r.tier in r.coupon.eligible_tiers and r.discount == (r.order_amount * 15 / 100).quantize(r.discount)
               for r in used)

