"""The page a throttled sign-in gets (django-axes calls locked_out: AXES_LOCKOUT_CALLABLE)."""

from django.conf import settings
from django.shortcuts import render


def locked_out(request, response=None, credentials=None):
    minutes = max(1, round(settings.AXES_COOLOFF_TIME.total_seconds() / 60))
    return render(request, "web/auth/locked.html", {"minutes": minutes}, status=429)
