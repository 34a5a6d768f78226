"""'I used this' on the talk tracks (销售话术) of a deal's page and a lead's page: both record the
use through clm.sales.scripts.mark_used, the same service the API uses."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from clm.core.access import visible_records
from clm.core.crud import one_or_404
from clm.sales import scripts
from clm.sales.models import Lead, Opportunity, TalkTrack
from clm.web.leads import _message


def _mark(request, record, track_pk, done: str, page: str):
    track = get_object_or_404(TalkTrack, pk=track_pk, active=True)
    try:
        scripts.mark_used(request.user, record, track)
    except (PermissionDenied, ValidationError) as error:
        messages.error(request, _message(error))
    else:
        messages.success(request, done % {"track": track.title})
    return redirect(page, record.pk)


@login_required
@require_POST
def deal_track_used(request, pk, track_pk):
    deal = one_or_404(visible_records(Opportunity, request.user), pk)
    return _mark(request, deal, track_pk, _("Marked “%(track)s” as used on this deal."), "web:deal")


@login_required
@require_POST
def lead_track_used(request, pk, track_pk):
    lead = one_or_404(visible_records(Lead, request.user), pk)
    return _mark(request, lead, track_pk, _("Marked “%(track)s” as used on this lead."), "web:lead")
