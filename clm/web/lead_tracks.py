"""A lead's talk tracks (销售话术) on its page: 'I used this' records the use through
clm.sales.scripts.mark_used, the same service the deal page and the API use."""

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
from clm.sales.models import Lead, TalkTrack
from clm.web.leads import _message


@login_required
@require_POST
def lead_track_used(request, pk, track_pk):
    lead = one_or_404(visible_records(Lead, request.user), pk)
    track = get_object_or_404(TalkTrack, pk=track_pk, active=True)
    try:
        scripts.mark_used(request.user, lead, track)
    except (PermissionDenied, ValidationError) as error:
        messages.error(request, _message(error))
    else:
        messages.success(request, _("Marked “%(track)s” as used on this lead.") % {"track": track.title})
    return redirect("web:lead", pk=lead.pk)
