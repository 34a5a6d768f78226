"""A signed-in user's own language and time zone, over the browser's (LocaleMiddleware's) guess."""

import zoneinfo

from django.conf import settings
from django.utils import timezone, translation

from clm.core.models import workspace_scope


class UserPreferencesMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            if user.language:
                translation.activate(user.language)
                request.LANGUAGE_CODE = translation.get_language()
            try:
                timezone.activate(zoneinfo.ZoneInfo(user.time_zone or settings.TIME_ZONE))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                timezone.activate(zoneinfo.ZoneInfo(settings.TIME_ZONE))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


class WorkspaceMiddleware:
    """The workspace settings read once per request: who sees which accounts, and the currency of
    every amount the page shows."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with workspace_scope():
            return self.get_response(request)
