"""The customer-success programmes in one place: onboarding and success plans, win-back, referrals
and dormant reactivation — each its own page, reached from here and from the main menu's one entry."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _


@login_required
def programmes(request):
    cards = [
        (reverse("web:success"), _("Onboarding & success plans"),
         _("New customers' first-value milestones, success plans with objectives and business reviews, "
           "and the value board you share with the customer.")),
        (reverse("web:winback"), _("Win-back"),
         _("Customers at risk or gone: the four steps from the warning to the evaluated outcome, and the "
           "churned customers most worth winning back.")),
        (reverse("web:referrals"), _("Referrals"),
         _("Referral codes, rewards when a referred customer signs, and the advocates to ask.")),
        (reverse("web:reactivation"), _("Dormant customers"),
         _("Dormant customers ranked by their potential to come back, and why.")),
        (reverse("web:membership"), _("Membership benefits and coupons"),
         _("What each value tier gives, and the coupons with how often each was used.")),
    ]  # fmt: skip
    return render(request, "web/programmes.html", {"nav": "programmes", "cards": cards})
