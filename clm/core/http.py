"""HTTP-level guards for the workspace and the admin (the API has its own, in clm.api): writes
retried when PostgreSQL refuses them for a moment, 503 when the database stays busy, 413 for a
body over DATA_UPLOAD_MAX_MEMORY_SIZE; and the language the API answers in."""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import OperationalError
from django.http import HttpResponse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.defaults import bad_request as django_bad_request

from clm.core.db import RETRY_AFTER_SECONDS, is_busy, retrying

SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")
API_DEFAULT_LANGUAGE = "en"


def api_language(request, user=None) -> str:
    """The language an API answer is in: the one its user chose in Preferences, else the one the
    request asks for (Accept-Language), else English. Not the workspace's default (Chinese): a
    program calling the API without saying is better served by the language of the API's docs.
    `user`: the token's user, once known; before that, the session's."""
    user = user if user is not None else getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.language:
        return user.language
    if request.META.get("HTTP_ACCEPT_LANGUAGE"):
        return translation.get_language_from_request(request)
    return API_DEFAULT_LANGUAGE


class RetryWritesMiddleware:
    """Runs each write request's view in one transaction, retried on a deadlock or serialization
    failure (clm.core.db.retrying). Last in MIDDLEWARE, so every other process_view (CSRF
    among them) has run before the view is called here."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view, args, kwargs):
        if request.method in SAFE_METHODS:
            return None
        try:
            return retrying(view)(request, *args, **kwargs)
        except OperationalError as exc:
            if not is_busy(exc):
                raise
            return busy(request)


def busy(request) -> HttpResponse:
    response = HttpResponse(
        _("The database is busy; nothing was changed. Please try again in a moment."),
        status=503,
        content_type="text/plain; charset=utf-8",
    )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def bad_request(request, exception, template_name="400.html"):
    """handler400: a body over the limit is a 413 naming the limit, not a bare 400."""
    if isinstance(exception, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE // (1024 * 1024)
        return HttpResponse(
            _("The request is too large: at most %(limit)s MB of form data.") % {"limit": limit},
            status=413,
            content_type="text/plain; charset=utf-8",
        )
    return django_bad_request(request, exception, template_name)
