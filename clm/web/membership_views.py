"""Membership benefits and coupons in the workspace: what each value tier gives, and the coupons
with how often each was used; managers and admins (the roles that may change them, clm.core.roles)
edit benefits, create, edit and retire coupons. Every change goes through clm.value.services."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from clm.commerce.models import Coupon
from clm.core.records import may
from clm.value import services as value_services
from clm.value.models import TierBenefit
from clm.value.services import benefits, coupons
from clm.web import explain


def _tiers() -> list[tuple[str, str]]:
    names = value_services.tier_names()
    return [(key, explain.tier_name(key, key, names)) for key in benefits.tier_keys()]


class BenefitForm(forms.ModelForm):
    class Meta:
        model = TierBenefit
        fields = ["dedicated_manager", "discount_rate", "early_access", "support_sla_hours"]
        help_texts = {"discount_rate": gettext_lazy("0.05 = 5 percent off.")}


class CouponForm(forms.ModelForm):
    eligible_tiers = forms.MultipleChoiceField(
        label=gettext_lazy("For the value tiers (none: every tier)"), required=False, widget=forms.CheckboxSelectMultiple)
    eligible_segments = forms.CharField(
        label=gettext_lazy("For the customer segments (keys, comma-separated; empty: every segment)"), required=False)

    class Meta:
        model = Coupon
        fields = ["code", "name", "kind", "value", "valid_from", "valid_until", "eligible_tiers", "eligible_segments",
                  "max_uses", "min_order_amount"]
        widgets = {"valid_from": forms.DateInput(attrs={"type": "date"}),
                   "valid_until": forms.DateInput(attrs={"type": "date"})}
        help_texts = {"value": gettext_lazy("An amount, or a percentage for a percentage coupon (10 = 10%)."),
                      "max_uses": gettext_lazy("1: single use. Empty: no limit.")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["eligible_tiers"].choices = _tiers()
        if self.instance.pk:
            self.initial["eligible_segments"] = ", ".join(self.instance.eligible_segments)

    def _post_clean(self):
        """No model validation here: clm.value.services.coupons.save_coupon checks the dates, the
        percentage and the code with messages that name the field (the model's constraints would
        show their own names)."""

    def clean_eligible_segments(self):
        return [s.strip() for s in self.cleaned_data["eligible_segments"].split(",") if s.strip()]


def _errors_to_form(form, exc: ValidationError) -> None:
    for field, problems in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, problems)


@login_required
def membership(request):
    if not may(request.user, "view", Coupon):
        raise PermissionDenied(_("You have no role in this workspace."))
    given = {b.tier: b for b in TierBenefit.objects.all()}
    tiers = [{"key": key, "name": name, "benefit": given.get(key)} for key, name in _tiers()]
    names = dict(_tiers())
    rows = list(Coupon.objects.order_by("-active", "-valid_until", "code"))
    used = coupons.uses(rows)
    today = timezone.localdate()
    for coupon in rows:
        coupon.used = used.get(coupon.pk, 0)
        coupon.tier_names = [names.get(t, t) for t in coupon.eligible_tiers]
        coupon.state = ("retired" if not coupon.active else "ended" if coupon.valid_until < today
                        else "upcoming" if coupon.valid_from > today
                        else "used_up" if coupon.max_uses is not None and coupon.used >= coupon.max_uses else "valid")
    return render(request, "web/programmes/membership.html", {
        "nav": "membership", "tiers": tiers, "coupons": rows,
        "can_benefits": may(request.user, "change", TierBenefit), "can_coupons": may(request.user, "change", Coupon),
    })


@login_required
def benefit_edit(request, tier: str):
    if not may(request.user, "change", TierBenefit):
        raise PermissionDenied(_("You may not change membership benefits."))
    names = dict(_tiers())
    if tier not in names:
        raise Http404(_("No value tier is called %(tier)s.") % {"tier": tier})
    form = BenefitForm(request.POST or None, instance=TierBenefit.objects.filter(tier=tier).first())
    if request.method == "POST" and form.is_valid():
        try:
            benefits.save_benefit(request.user, tier, form.cleaned_data)
        except ValidationError as exc:
            _errors_to_form(form, exc)
        else:
            messages.success(request, _("What the tier %(tier)s gives is saved.") % {"tier": names[tier]})
            return redirect("web:membership")
    return render(request, "web/programmes/membership_edit.html", {
        "nav": "membership", "form": form, "title": _("Benefits of the tier %(tier)s") % {"tier": names[tier]},
    }, status=422 if request.method == "POST" else 200)


@login_required
def coupon_edit(request, pk: int | None = None):
    coupon = get_object_or_404(Coupon, pk=pk) if pk else None
    if not may(request.user, "change" if coupon else "add", Coupon):
        raise PermissionDenied(_("You may not manage coupons."))
    form = CouponForm(request.POST or None, instance=coupon)
    if request.method == "POST" and form.is_valid():
        try:
            coupons.save_coupon(request.user, form.cleaned_data, coupon)
        except ValidationError as exc:
            _errors_to_form(form, exc)
        else:
            messages.success(request, _("The coupon %(code)s is saved.") % {"code": form.cleaned_data["code"].upper()})
            return redirect("web:membership")
    title = _("Coupon %(code)s") % {"code": coupon.code} if coupon else _("New coupon")
    return render(request, "web/programmes/membership_edit.html", {"nav": "membership", "form": form, "title": title},
                  status=422 if request.method == "POST" else 200)


@login_required
@require_POST
def coupon_retire(request, pk: int):
    coupon = get_object_or_404(Coupon, pk=pk)
    try:
        coupons.save_coupon(request.user, {"active": False}, coupon)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("The coupon %(code)s is retired: it can no longer be used.") % {"code": coupon.code})
    return redirect("web:membership")
