"""Helpers every API view uses: input validation and the documented error responses."""

from drf_spectacular.utils import OpenApiResponse

from inventory_hub.api.serializers import ErrorSerializer


def error_response(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


READ_ERRORS = {
    401: error_response("not_authenticated, authentication_failed"),
    403: error_response("permission_denied: the role may not read this"),
    429: error_response("throttled: too many requests (see the Retry-After header)"),
}
WRITE_ERRORS = {
    400: error_response("validation_error (details name each field), malformed_json, unknown_*"),
    **READ_ERRORS,
    403: error_response("permission_denied: the role, or the warehouse or channel scope"),
    422: error_response("idempotency_key_reused: the same Idempotency-Key with another body"),
}

# The errors of every page-numbered list, for its schema.
LIST_ERRORS = {
    400: error_response("validation_error: a filter or ordering value, naming it"),
    404: error_response("not_found: no such page"),
    **READ_ERRORS,
}


def validated(serializer_class, request, **kwargs) -> dict:
    serializer = serializer_class(data=request.data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
