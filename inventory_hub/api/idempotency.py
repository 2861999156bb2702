"""Idempotency-Key for POSTs that change stock, after Stripe's design.

The key row, the work and the stored answer commit in one transaction. A repeat of the
same key waits on the unique index while the first is in flight, then replays the stored
answer; the same key with a different body is refused with 422. 5xx answers are not
stored, so the client may retry them with the same key.
"""

import hashlib
import json
from functools import wraps

from django.db import IntegrityError, transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response

from inventory_hub.api.errors import ApiError
from inventory_hub.api.serializers import storable
from inventory_hub.models import IdempotencyKey

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255

KEY_PARAMETER = OpenApiParameter(
    HEADER,
    {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
    location=OpenApiParameter.HEADER,
    required=False,
    description=f"1 to {MAX_KEY_LENGTH} characters of your choice, such as a UUID. The same "
    "key with the same body replays the first answer (header Idempotent-Replayed: true) "
    "without doing the work again; with another body it is refused (422). Keys are kept "
    "at least IDEMPOTENCY_KEY_HOURS (24) hours. 5xx answers are not kept.",
)


class _DoNotStore(Exception):
    def __init__(self, response: Response):
        self.response = response


def idempotent(view_method):
    @wraps(view_method)
    def wrapper(view, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return view_method(view, request, *args, **kwargs)
        if not key.strip() or len(key) > MAX_KEY_LENGTH:
            raise ApiError(
                status_code=status.HTTP_400_BAD_REQUEST,
                code="invalid_idempotency_key",
                message=f"{HEADER} must be 1 to {MAX_KEY_LENGTH} characters.",
            )
        fingerprint = _fingerprint(request)
        try:
            with transaction.atomic():
                record = IdempotencyKey.objects.create(
                    user=request.user,
                    key=key,
                    method=request.method,
                    path=request.path[:500],
                    request_hash=fingerprint,
                    status_code=0,
                )
                response = _run(view, view_method, request, *args, **kwargs)
                if response.status_code >= 500:
                    raise _DoNotStore(response)
                record.status_code = response.status_code
                # Error bodies are already storable (errors.error_body); this keeps any other
                # echo of the client's input from failing the insert after the work is done.
                record.response_body = storable(response.data)
                record.save(update_fields=["status_code", "response_body"])
                return response
        except _DoNotStore as skipped:
            return skipped.response
        except IntegrityError as exc:
            if "idempotency_key_unique_per_user" not in str(exc):
                raise
        return _replay(request, key, fingerprint)

    wrapper.takes_idempotency_key = True
    return extend_schema(parameters=[KEY_PARAMETER])(wrapper)


def _run(view, view_method, request, *args, **kwargs) -> Response:
    try:
        return view_method(view, request, *args, **kwargs)
    except Exception as exc:
        # Render the error as DRF would, so that it can be stored and replayed. Its
        # set_rollback() then marks only this savepoint, not the key row's transaction;
        # the failed service has already rolled back its own work.
        with transaction.atomic():
            return view.handle_exception(exc)


def _replay(request, key: str, fingerprint: str) -> Response:
    record = IdempotencyKey.objects.get(user=request.user, key=key)
    if record.request_hash != fingerprint:
        raise ApiError(
            status_code=status.HTTP_422_UNPROCESSABLE_ENTITY,
            code="idempotency_key_reused",
            message=f"{HEADER} {key!r} was already used with a different request.",
        )
    return Response(
        record.response_body, status=record.status_code, headers={"Idempotent-Replayed": "true"}
    )


def _fingerprint(request) -> str:
    body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), default=str)
    material = f"{request.method} {request.path}?{request.META.get('QUERY_STRING', '')}\n{body}"
    return hashlib.sha256(material.encode()).hexdigest()
