"""The REST API at /api/v1: one NinjaAPI, token or session auth, one error format everywhere.

Errors always look like {"error": {"code": ..., "message": ..., "details": [{"loc": [...], "message": ...}]}}."""

from datetime import timedelta
from functools import wraps

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import IntegrityError
from django.http import Http404
from django.urls import re_path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import APIKeyHeader, HttpBearer, django_auth

from clm.core.models import ApiToken
from clm.core.services import validation_messages

LAST_USED_RESOLUTION = timedelta(minutes=1)


def user_for_token(raw: str):
    """The active user a raw token belongs to, or None; records when the token was last used."""
    if not raw or not raw.startswith(ApiToken.PREFIX):
        return None
    token = ApiToken.objects.select_related("user").filter(digest=ApiToken.hash(raw), revoked_at=None).first()
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


class BearerToken(HttpBearer):
    def authenticate(self, request, token):
        user = user_for_token(token)
        if user is not None:
            request.user = user
        return user


class HeaderToken(APIKeyHeader):
    param_name = "X-API-Key"

    def authenticate(self, request, key):
        user = user_for_token(key)
        if user is not None:
            request.user = user
        return user


class CLMApi(NinjaAPI):
    """NinjaAPI whose unknown paths and wrong methods answer in the error format too."""

    def _get_urls(self):
        urls = super()._get_urls()
        for pattern in urls:
            pattern.callback = _json_not_allowed(pattern.callback)
        return [*urls, re_path(r"^.*$", csrf_exempt(_unknown_path))]


def _json_not_allowed(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        if response.status_code == 405 and not response.get("Content-Type", "").startswith("application/json"):
            allowed = response.get("Allow", "")
            response = error(request, 405, "method_not_allowed", f"{request.method} is not allowed here (allowed: {allowed}).")
            response["Allow"] = allowed
        return response

    return wrapped


def _unknown_path(request):
    return error(request, 404, "not_found", f"No API endpoint at {request.path}; see /api/v1/docs.")


api = CLMApi(
    title="CLM API",
    version="1",
    description="Customer lifecycle management: accounts, contacts, contracts, orders, usage, tickets, surveys.",
    auth=[BearerToken(), HeaderToken(), django_auth],
    urls_namespace="api-v1",
)


def error(request, status: int, code: str, message: str, details: list | None = None):
    return api.create_response(
        request, {"error": {"code": code, "message": message, "details": details or []}}, status=status
    )


@api.exception_handler(NinjaValidationError)
def on_invalid_request(request, exc):
    details = [
        {"loc": [str(part) for part in e.get("loc", [])], "message": e.get("msg", str(e))} for e in exc.errors
    ]
    return error(request, 422, "invalid_request", "The request is not valid; see details.", details)


@api.exception_handler(ValidationError)
def on_invalid_data(request, exc):
    details = [{"loc": [m["field"]] if m["field"] else [], "message": m["message"]} for m in validation_messages(exc)]
    return error(request, 422, "invalid_data", "The data is not valid; see details.", details)


@api.exception_handler(IntegrityError)
def on_conflict(request, exc):
    return error(request, 409, "conflict", "The change conflicts with existing data (a duplicate external id?).")


@api.exception_handler(AuthenticationError)
def on_unauthenticated(request, exc):
    return error(request, 401, "unauthenticated", "Send a personal API token: Authorization: Bearer clm_…")


@api.exception_handler(PermissionDenied)
def on_forbidden(request, exc):
    return error(request, 403, "forbidden", str(exc) or "You may not do this.")


@api.exception_handler(Http404)
def on_not_found(request, exc):
    return error(request, 404, "not_found", str(exc) or "Not found.")


@api.exception_handler(ObjectDoesNotExist)
def on_missing(request, exc):
    return error(request, 404, "not_found", str(exc) or "Not found.")


HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 409: "conflict", 413: "too_large"}


@api.exception_handler(HttpError)
def on_http_error(request, exc):
    # clm.core.crud.ApiError carries its own code and details.
    code = getattr(exc, "code", None) or HTTP_CODES.get(exc.status_code, "error")
    return error(request, exc.status_code, code, str(exc), getattr(exc, "details", None))


@api.exception_handler(Exception)
def on_unexpected(request, exc):
    import logging

    logging.getLogger("clm.api").exception("unhandled API error")
    return error(request, 500, "internal_error", "Something went wrong on our side; it has been logged.")


def register_routers():
    """Each app contributes its router; mounted here so the URL space is visible in one place."""
    from importlib import import_module
    from importlib.util import find_spec

    for prefix, module in ROUTERS:
        try:
            present = find_spec(module) is not None
        except ModuleNotFoundError:
            present = False
        if present:
            api.add_router(prefix, import_module(module).router)


ROUTERS = [
    ("/", "clm.customers.api"),
    ("/", "clm.commerce.api"),
    ("/", "clm.usage.api"),
    ("/", "clm.service.api"),
    ("/", "clm.sales.api"),
    ("/", "clm.lifecycle.api"),
    ("/value", "clm.value.api"),
    ("/imports", "clm.io.api"),
    ("/privacy", "clm.io.api_privacy"),
    ("/", "clm.core.api"),
    ("/", "clm.automation.api_channels"),
]

register_routers()
