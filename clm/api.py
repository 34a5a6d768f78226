"""The REST API at /api/v1: one NinjaAPI, token or session auth, one error format everywhere.

Errors always look like {"error": {"code": ..., "message": ..., "details": [{"loc": [...], "message": ...}]}};
at most MAX_DETAILS details are listed, and "details_omitted" then says how many more there were."""

from datetime import timedelta
from functools import wraps

from django.conf import settings
from django.core.exceptions import (
    ObjectDoesNotExist,
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
    ValidationError,
)
from django.db import IntegrityError, OperationalError, transaction
from django.http import Http404
from django.urls import re_path
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.params.models import BodyModel
from ninja.security import APIKeyHeader, HttpBearer, django_auth

from clm.core import tokens
from clm.core.crud import ApiError
from clm.core.db import RETRY_AFTER_SECONDS, is_busy, retrying
from clm.core.http import SAFE_METHODS, api_language
from clm.core.models import ApiToken
from clm.core.services import validation_messages

LAST_USED_RESOLUTION = timedelta(minutes=1)
MAX_DETAILS = 50
# A record with its children (an order of thousands of lines) fits with room to spare; batched
# usage events (POST /events, up to DATA_UPLOAD_MAX_MEMORY_SIZE) read their body themselves.
MAX_JSON_BODY = 1024 * 1024


def user_for_token(request, raw: str):
    """The active user a raw token belongs to, or None; refuses a known token that has expired or
    whose scope does not cover this operation, and records when the token was last used."""
    if not raw or not raw.startswith(ApiToken.PREFIX):
        return None
    token = ApiToken.objects.select_related("user").filter(digest=ApiToken.hash(raw), revoked_at=None).first()
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    try:
        tokens.check_use(token, request.method, getattr(request, "operation_id", None), now)
    except tokens.TokenRefused as exc:
        raise ApiError(exc.status, "unauthenticated" if exc.status == 401 else "forbidden", str(exc)) from None
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    request.api_token = token
    translation.activate(api_language(request, token.user))  # until in_api_language's end
    return token.user


class BearerToken(HttpBearer):
    def authenticate(self, request, token):
        user = user_for_token(request, token)
        if user is not None:
            request.user = user
        return user


class HeaderToken(APIKeyHeader):
    param_name = "X-API-Key"

    def authenticate(self, request, key):
        user = user_for_token(request, key)
        if user is not None:
            request.user = user
        return user


ERROR_SCHEMA = {
    "title": "Error",
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "additionalProperties": False,
            "properties": {
                "code": {"type": "string", "description": "invalid_request, not_found, forbidden, conflict, busy…"},
                "message": {"type": "string"},
                "details": {
                    "type": "array",
                    "maxItems": MAX_DETAILS,
                    "items": {
                        "type": "object",
                        "required": ["loc", "message"],
                        "additionalProperties": False,
                        "properties": {
                            "loc": {"type": "array", "items": {"type": ["string", "integer"]}},
                            "message": {"type": "string"},
                        },
                    },
                },
                "details_omitted": {"type": "integer", "minimum": 1},
            },
        }
    },
}


class CLMApi(NinjaAPI):
    """NinjaAPI whose unknown paths and wrong methods answer in the error format too. Each
    operation retries its own writes (see retry_writes), so the web's middleware leaves the
    API's views alone."""

    def get_openapi_schema(self, **kwargs):
        """Every operation may also answer with the one error format (401, 403, 404, 409, 413,
        422, 503…): documented once as the `default` response, so a client parses errors and a
        checker knows them. In English whatever the reader's language: the titles Django's
        translated labels give would otherwise mix with the English descriptions, and a
        generated client's names would depend on who fetched the schema."""
        with translation.override("en"):
            schema = super().get_openapi_schema(**kwargs)
        schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
        default = {
            "description": "An error: code, message and details (loc, message) of what is wrong",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for operations in schema["paths"].values():
            for operation in operations.values():
                operation["responses"].setdefault("default", default)
        return schema

    def get_openapi_operation_id(self, operation) -> str:
        """An operation without an explicit id is named after its function (`list_accounts`, not
        the module path): the names generated clients give their methods."""
        return operation.view_func.__name__

    def _get_urls(self):
        urls = super()._get_urls()
        for pattern in urls:
            pattern.callback = transaction.non_atomic_requests(_json_not_allowed(pattern.callback))
        return [*urls, re_path(r"^.*$", csrf_exempt(_unknown_path))]


def _json_not_allowed(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        if response.status_code == 405 and not response.get("Content-Type", "").startswith("application/json"):
            with translation.override(api_language(request)):
                return _method_not_allowed(request, response)
        return response

    return wrapped


def _method_not_allowed(request, response):
    allowed = response.get("Allow", "")
    message = _("%(method)s is not allowed here (allowed: %(allowed)s).") % {"method": request.method, "allowed": allowed}
    response = error(request, 405, "method_not_allowed", message)
    response["Allow"] = allowed
    return response


def _unknown_path(request):
    with translation.override(api_language(request)):
        message = _("No API endpoint at %(path)s; see /api/v1/docs.") % {"path": request.path}
        return error(request, 404, "not_found", message)


api = CLMApi(
    title="CLM API",
    version="1",
    description="Customer lifecycle management: accounts, contacts, contracts, orders, usage, tickets, surveys.",
    auth=[BearerToken(), HeaderToken(), django_auth],
    urls_namespace="api-v1",
)


def error(request, status: int, code: str, message: str, details: list | None = None):
    details = details or []
    body = {"code": code, "message": message, "details": details[:MAX_DETAILS]}
    if len(details) > MAX_DETAILS:
        body["details_omitted"] = len(details) - MAX_DETAILS
    return api.create_response(request, {"error": body}, status=status)


def bounded_body(run):
    """An operation that takes a JSON body refuses one over MAX_JSON_BODY before reading it:
    parsing costs many times the body's size in memory."""
    takes_json = any(issubclass(model, BodyModel) for model in run.__self__.models)
    if not takes_json:
        return run

    @wraps(run)
    def wrapped(request, **kwargs):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > MAX_JSON_BODY:
            limit = f"{MAX_JSON_BODY // 1024:,} KB"
            return error(request, 413, "too_large", _("The body is too large: at most %(limit)s (%(length)s bytes sent).") % {"limit": limit, "length": f"{length:,}"})
        return run(request, **kwargs)

    return wrapped


def note_operation(run):
    """The operation's id, on the request before authentication: a token's scope is checked
    against it."""
    operation = run.__self__
    operation_id = operation.operation_id or api.get_openapi_operation_id(operation)

    @wraps(run)
    def wrapped(request, **kwargs):
        request.operation_id = operation_id
        return run(request, **kwargs)

    wrapped.__self__ = operation  # as on the bound method, for the view decorators after this one
    return wrapped


def in_api_language(run):
    """The operation answers in clm.core.http.api_language: English unless the request or its
    user says otherwise (the token's user is known only once authenticated, which then
    switches)."""

    @wraps(run)
    def wrapped(request, **kwargs):
        with translation.override(api_language(request)):
            response = run(request, **kwargs)
            response.headers.setdefault("Content-Language", translation.get_language())
        return response

    wrapped.__self__ = run.__self__
    return wrapped


def retry_writes(view_func):
    """Each write operation runs in one transaction, retried when PostgreSQL aborts it as a
    deadlock victim or a serialization failure (clm.core.db.retrying); reads run as they are."""
    retried = retrying(view_func)
    if retried is view_func:
        return view_func

    @wraps(view_func)
    def wrapped(request, *args, **kwargs):
        if request.method in SAFE_METHODS:
            return view_func(request, *args, **kwargs)
        return retried(request, *args, **kwargs)

    return wrapped


api.add_decorator(note_operation, mode="view")
api.add_decorator(bounded_body, mode="view")
api.add_decorator(in_api_language, mode="view")
api.add_decorator(retry_writes, mode="operation")


@api.exception_handler(NinjaValidationError)
def on_invalid_request(request, exc):
    details = [
        {"loc": [str(part) for part in e.get("loc", [])], "message": e.get("msg", str(e))} for e in exc.errors
    ]
    return error(request, 422, "invalid_request", _("The request is not valid; see details."), details)


@api.exception_handler(ValidationError)
def on_invalid_data(request, exc):
    details = [{"loc": [m["field"]] if m["field"] else [], "message": m["message"]} for m in validation_messages(exc)]
    return error(request, 422, "invalid_data", _("The data is not valid; see details."), details)


@api.exception_handler(IntegrityError)
def on_conflict(request, exc):
    return error(request, 409, "conflict", _("The change conflicts with existing data (a duplicate external id?)."))


@api.exception_handler(OperationalError)
def on_database_error(request, exc):
    if not is_busy(exc):
        return on_unexpected(request, exc)
    response = error(request, 503, "busy", _("The database is busy; nothing was changed. Send the request again."))
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


@api.exception_handler(RequestDataTooBig)
def on_too_large(request, exc):
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE // (1024 * 1024)
    return error(request, 413, "too_large", _("The body is too large: at most %(limit)s MB.") % {"limit": limit})


@api.exception_handler(SuspiciousOperation)
def on_suspicious(request, exc):
    return error(request, 400, "bad_request", str(exc) or _("The request is malformed."))


@api.exception_handler(AuthenticationError)
def on_unauthenticated(request, exc):
    return error(request, 401, "unauthenticated", _("Send a personal API token: Authorization: Bearer clm_…"))


@api.exception_handler(PermissionDenied)
def on_forbidden(request, exc):
    return error(request, 403, "forbidden", str(exc) or _("You may not do this."))


@api.exception_handler(Http404)
def on_not_found(request, exc):
    return error(request, 404, "not_found", str(exc) or _("Not found."))


@api.exception_handler(ObjectDoesNotExist)
def on_missing(request, exc):
    return error(request, 404, "not_found", str(exc) or _("Not found."))


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
    return error(request, 500, "internal_error", _("Something went wrong on our side; it has been logged."))


def register_routers():
    """Each app contributes its router; mounted here so the URL space is visible in one place.
    Imported in English: the schemas built from models take their fields' labels as descriptions
    when they are made, and the published schema is English (see CLMApi.get_openapi_schema)."""
    from importlib import import_module
    from importlib.util import find_spec

    with translation.override("en"):
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
    ("/", "clm.sales.api_deals"),
    ("/", "clm.lifecycle.api"),
    ("/value", "clm.value.api"),
    ("/value", "clm.value.api_benefits"),
    ("/kpis", "clm.reports.api"),
    ("/reports", "clm.reports.api_figures"),
    ("/imports", "clm.io.api"),
    ("/", "clm.automation.api"),
    ("/privacy", "clm.io.api_privacy"),
    ("/", "clm.core.api"),
    ("/", "clm.automation.api_channels"),
    ("/", "clm.automation.api_playbooks"),
    ("/", "clm.automation.api_winback"),
    ("/value", "clm.value.api_referrals"),
    ("/", "clm.automation.api_voice"),
    ("/", "clm.success.api"),
]

register_routers()
