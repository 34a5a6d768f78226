"""The referral and reactivation pages: advocates to ask for referrals (and asking them through the
`promoter-referral-ask` play), the referrals with their rewards and the referral KPIs; the dormant
customers ranked by reactivation potential, with the `dormant-reactivation` play's rate against its
holdout; and the programmes panel of the account page. Views call clm.value.services and the
playbook services, which hold the rules."""

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from clm.automation.models import Playbook, WinBack
from clm.automation.models.winback import _localised
from clm.automation.playbooks import outcomes
from clm.automation.playbooks import services as playbooks
from clm.core.access import visible_accounts, visible_records
from clm.core.crud import one_or_404
from clm.value.models import Referral, ReferralCode, ReferralRule
from clm.value.services import advocacy, reactivation, referrals
from clm.web.work_views import _errors

ASK_PLAY, WAKE_PLAY = "promoter-referral-ask", "dormant-reactivation"


def _require(user) -> None:
    if not user.has_perm("value.view_referral"):
        raise PermissionDenied(_("You may not see referrals."))


def _play(key: str) -> Playbook | None:
    return Playbook.objects.filter(key=key).first()


@login_required
@require_GET
def referrals_page(request):
    _require(request.user)
    today = timezone.localdate()
    start = today.replace(month=1, day=1)
    end = today + dt.timedelta(days=1)
    accounts, ask = visible_accounts(request.user), _play(ASK_PLAY)
    referred, new = advocacy.referral_share(accounts, start, end)
    listed = advocacy.advocates(request.user, limit=10**6)
    made, advocate_count = advocacy.referrals_per_advocate(request.user, start, end, len(listed))
    cost, clv = advocacy.reward_cost_to_clv(accounts)
    rows = (
        visible_records(Referral, request.user)
        .select_related("referrer", "referrer_contact", "referred_account", "lead", "reward")
        .order_by("-arrived_at", "-id")[:100]
    )
    return render(request, "web/programmes/referrals.html", {
        "nav": "referrals", "advocates": listed[:100], "referrals": list(rows),
        "kpis": {"referred": referred, "new": new, "share": referred / new if new else None, "made": made,
                 "advocates": advocate_count, "per_advocate": made / advocate_count if advocate_count else None,
                 "cost": cost, "clv": clv, "cost_share": float(cost / clv) if clv else None, "year": start.year},
        "rule": referrals.active_rule(), "rules": ReferralRule.objects.filter(active=True),
        "unmatched": referrals.unmatched(accounts),
        "ask_play": ask, "ask_play_name": _localised(ask.name_en, ask.name_zh) if ask else "",
        "can_enroll": playbooks.can_edit(request.user),
    })


def _enroll(request, key: str, back: str):
    play = _play(key)
    ids = [int(v) for v in request.POST.getlist("account") if v.isascii() and v.isdigit()]
    allowed = list(visible_accounts(request.user).filter(pk__in=ids).values_list("pk", flat=True))
    if play is None or not allowed:
        messages.error(request, _("Choose accounts, and enable the playbook first."))
        return redirect(back)
    try:
        playbooks.require_editor(request.user)
        enrolled = playbooks.enroll_accounts(play, allowed, actor=request.user, via="ui")
    except (PermissionDenied, ValidationError) as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(request, _("%(n)s accounts enrolled in “%(play)s”.") % {
            "n": len(enrolled), "play": _localised(play.name_en, play.name_zh)})
    return redirect(back)


@login_required
@require_POST
def referrals_ask(request):
    return _enroll(request, ASK_PLAY, "web:referrals")


@login_required
@require_GET
def reactivation_page(request):
    _require(request.user)
    play = _play(WAKE_PLAY)
    report = outcomes.report(play) if play is not None else None
    return render(request, "web/programmes/reactivation.html", {
        "nav": "reactivation", "rows": reactivation.dormant_list(request.user, limit=200), "play": play,
        "report": report, "can_enroll": playbooks.can_edit(request.user),
    })


@login_required
@require_POST
def reactivation_enroll(request):
    return _enroll(request, WAKE_PLAY, "web:reactivation")


@login_required
@require_GET
def account_programmes(request, pk):
    """The account page's panel: its referral code and referrals, its win-back, its reactivation potential."""
    account = one_or_404(visible_accounts(request.user), pk)
    code = ReferralCode.objects.filter(account=account, contact=None, active=True).first()
    made = Referral.objects.filter(referrer=account).select_related("referred_account", "lead", "reward")
    came = Referral.objects.filter(referred_account=account).select_related("referrer").first()
    winbacks = WinBack.objects.filter(account=account).select_related("cause", "offer").order_by("-created_at")[:3]
    potential = None
    if account.lifecycle_stage == "dormant":
        found = [r for r in reactivation.dormant_list(request.user, limit=10**6) if r.account.pk == account.pk]
        potential = found[0] if found else None
    return render(request, "web/programmes/_account_panel.html", {
        "account": account, "code": code, "made": list(made[:10]), "made_count": made.count(), "came": came,
        "winbacks": list(winbacks), "potential": potential,
        "can_code": request.user.has_perm("value.add_referralcode"),
        "can_start": request.user.has_perm("automation.add_case"),
    })


@login_required
@require_POST
def account_referral_code(request, pk):
    account = one_or_404(visible_accounts(request.user), pk)
    try:
        referrals.code_for(request.user, account, via="ui")
    except (PermissionDenied, ValidationError) as exc:
        messages.error(request, _errors(exc))
    return redirect("web:account", pk=account.pk)
