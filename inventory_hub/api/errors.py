"""One error shape for the whole API: {"error": {"code", "message", "details"}}.

Domain errors keep their own stable code: each app registers how its errors are answered
(`register_domain_error`, in its AppConfig.ready()), since this kit imports no app. DRF's
errors are given precise codes too. Bad input is always a 4xx naming the field, never a 500.
"""

import sys
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpResponse, JsonResponse
from django.utils.deprecation import MiddlewareMixin
from django.views import defaults
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import set_rollback

from inventory_hub.api.serializers import storable


@dataclass(frozen=True, slots=True)
class DomainErrorAnswer:
    """How the API answers a domain error: the status and the error shape's three parts."""

    status: int
    code: str
    message: str
    details: Any = None


DomainError = TypeVar("DomainError", bound=Exception)
_domain_errors: dict[type[Exception], Callable[[Any], DomainErrorAnswer]] = {}


def register_domain_error(
    error_class: type[DomainError], answer: Callable[[DomainError], DomainErrorAnswer]
) -> None:
    """Answer `error_class` (and its subclasses, unless they have their own) with `answer`."""
    _domain_errors[error_class] = answer


def domain_error_answer(exc: BaseException) -> DomainErrorAnswer | None:
    """The registered answer of the closest registered class of `exc`; None if none is."""
    for cls in type(exc).__mro__:
        answer = _domain_errors.get(cls)
        if answer is not None:
            return answer(exc)
    return None


DRF_CODES = {
    exceptions.ParseError: "malformed_json",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
    exceptions.ValidationError: "validation_error",
}


class ApiError(exceptions.APIException):
    """An API-level error with our own code, e.g. an Idempotency-Key reused with a new body."""

    def __init__(self, *, status_code: int, code: str, message: str, details=None):
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.error_code = code
        self.details = details


def error_body(code: str, message: str, details=None) -> dict:
    # Messages and details may echo the client's input (field names, SKUs), where a JSON
    # body can smuggle in a lone surrogate that no renderer can encode as UTF-8.
    return {"error": {"code": code, "message": storable(message), "details": storable(details)}}


def exception_handler(exc, context):
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    answer = domain_error_answer(exc)
    if answer is not None:
        set_rollback()
        return Response(error_body(answer.code, answer.message, answer.details), answer.status)
    if isinstance(exc, ApiError):
        set_rollback()
        return Response(error_body(exc.error_code, str(exc.detail), exc.details), exc.status_code)
    if isinstance(exc, exceptions.APIException):
        set_rollback()
        code = next((c for cls, c in DRF_CODES.items() if isinstance(exc, cls)), "error")
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        if isinstance(exc, exceptions.ValidationError):
            message = _first_message(exc.detail)
            details = exc.detail
        else:
            message = str(exc.detail)
            details = None
        return Response(error_body(code, message, details), status=exc.status_code, headers=headers)
    return None


def _first_message(detail, path: str = "") -> str:
    """'quantity: Ensure this value is greater than or equal to 1.' — the field named."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            if isinstance(key, int):  # DRF keys list-item errors by their index
                return _first_message(value, f"{path}[{key}]")
            name = key if key != "non_field_errors" else ""
            return _first_message(value, f"{path}.{name}" if path and name else name or path)
    if isinstance(detail, list) and detail:
        for index, item in enumerate(detail):
            if item:
                inner = f"{path}[{index}]" if isinstance(item, dict | list) else path
                return _first_message(item, inner)
    text = str(detail) if detail else "Invalid input."
    return f"{path}: {text}" if path else text


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def not_found(request, exception=None):
    """handler404: the API's error shape under /api/, Django's page elsewhere."""
    if _is_api(request):
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    return defaults.page_not_found(request, exception)


# Seconds a client is asked to wait when the database cannot be reached (a restart takes a few).
DATABASE_RETRY_AFTER_SECONDS = 5


def database_unavailable(request) -> HttpResponse:
    """503 with Retry-After for a request caught by a database restart or outage.

    The API's error shape under /api/, a short plain page elsewhere. Nothing half-done is
    left behind: each service is one transaction, which the lost connection rolled back.
    """
    headers = {"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)}
    message = "The database cannot be reached at the moment; retry in a few seconds."
    if _is_api(request):
        body = error_body("database_unavailable", message)
        return JsonResponse(body, status=503, headers=headers)
    return HttpResponse(
        f"503 Service Unavailable\n\n{message}\n",
        status=503,
        headers=headers,
        content_type="text/plain; charset=utf-8",
    )


def is_database_outage(exc: BaseException | None) -> bool:
    return isinstance(exc, OperationalError | InterfaceError)


def server_error(request):
    """handler500: the API's error shape under /api/, Django's page elsewhere."""
    # Django calls this inside its `except`: an error raised outside any view (a middleware
    # reading the session, say) is still at hand.
    if is_database_outage(sys.exc_info()[1]):
        return database_unavailable(request)
    if _is_api(request):
        return JsonResponse(
            error_body("server_error", "Something went wrong on our side; it has been logged."),
            status=500,
        )
    return defaults.server_error(request)


# Codes for errors Django answers before or around the API's views.
HTTP_CODES = {
    400: "bad_request",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    500: "server_error",
}


# Views outside /api/ that answer JSON to machines, by URL name; the apps that own them
# register them in their AppConfig.ready() (the connectors: a store's webhook delivery).
_json_views: set[str] = set()


def register_json_view(view_name: str) -> None:
    """A body over the size limit sent to this view is answered in the API's error shape."""
    _json_views.add(view_name)


class ApiErrorShapeMiddleware(MiddlewareMixin):
    """Under /api/, every error is answered in the one error shape, whoever answers it.

    DRF's views already do; this covers what happens around them: a body over
    DATA_UPLOAD_MAX_MEMORY_SIZE (Django calls it a 400 bad request: here 413), a path no
    URL matches and any page Django renders itself (with DEBUG on, its debug pages).
    The views registered with `register_json_view` (a store's webhook delivery) answer a
    body over the limit the same way.
    """

    def process_exception(self, request, exception):
        if isinstance(exception, RequestDataTooBig) and (
            _is_api(request) or _is_json_endpoint(request)
        ):
            return too_large()
        return None

    def process_response(self, request, response):
        if (
            not _is_api(request)
            or response.status_code < 400
            or response.streaming
            or response.get("Content-Type", "").startswith("application/json")
        ):
            return response
        return shaped_error(response.status_code)


def _is_json_endpoint(request) -> bool:
    """Views outside /api/ that answer JSON to machines (a store's webhook delivery)."""
    match = request.resolver_match
    return match is not None and match.view_name in _json_views


def too_large() -> JsonResponse:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return JsonResponse(
        error_body(
            "request_too_large",
            f"The request body is larger than the {limit} bytes allowed.",
            {"limit": limit},
        ),
        status=413,
    )


def shaped_error(status_code: int) -> JsonResponse:
    try:
        message = HTTPStatus(status_code).phrase
    except ValueError:
        message = "Error"
    return JsonResponse(
        error_body(HTTP_CODES.get(status_code, "error"), f"{message}."), status=status_code
    )
