"""The public pages an email links to: the open pixel, click redirects and the unsubscribe page.
No login: each link carries a signed token, and the views only parse it and call engagement."""

import base64

from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from clm.automation.channels import engagement, tracking
from clm.automation.models import Delivery
from clm.core.models import Workspace

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


@never_cache
@require_GET
def open_pixel(request, token: str):
    ids = tracking.read(tracking.OPEN, token)
    if ids and len(ids) == 1:
        engagement.record_open(ids[0])
    return HttpResponse(PIXEL, content_type="image/gif")


@never_cache
@require_GET
def click(request, token: str):
    ids = tracking.read(tracking.CLICK, token)
    url = engagement.record_click(*ids) if ids and len(ids) == 2 else None
    if url is None:
        return render(request, "automation/link_invalid.html", status=404)
    return HttpResponseRedirect(url)


@csrf_exempt  # RFC 8058: mail clients POST "List-Unsubscribe=One-Click" without any cookie or form
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    ids = tracking.read(tracking.UNSUBSCRIBE, token)
    delivery = Delivery.objects.filter(pk=ids[0]).first() if ids and len(ids) == 1 else None
    if delivery is None:
        return render(request, "automation/link_invalid.html", status=404)
    done = False
    if request.method == "POST":
        one_click = request.POST.get("List-Unsubscribe") == "One-Click"
        engagement.unsubscribe(delivery.pk, source="one-click header" if one_click else "unsubscribe page")
        done = True
    # A GET only asks: link scanners open every link in a message, and must not unsubscribe anyone.
    with translation.override(delivery.language or None):
        return render(
            request,
            "automation/unsubscribe.html",
            {"address": delivery.to, "company": Workspace.current().name, "done": done},
        )
