"""Helpers every API view uses: input validation and the documented error responses."""

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

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


def refuse_unknown_fields(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing: every request body object says what the API does,
    `additionalProperties: false` (StrictSerializer refuses a field it does not know)."""
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") and component.get("type") == "object":
            component["additionalProperties"] = False
    return result


# Bodies that take exactly one of two fields.
EXACTLY_ONE_OF = {
    "AdjustmentInputRequest": ("delta", "counted"),
    "BulkRowInputRequest": ("counted", "delta"),
}


def document_exclusive_fields(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing: `oneOf` for the bodies whose validate() asks for
    exactly one of two fields (delta or counted), which no field definition can say."""
    schemas = result.get("components", {}).get("schemas", {})
    for component, names in EXACTLY_ONE_OF.items():
        schemas[component]["oneOf"] = [{"required": [name]} for name in names]
        # A delta of 0 changes nothing and is refused.
        schemas[component]["properties"]["delta"]["not"] = {"enum": [0]}
    return result


def document_query_minimums(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing: `?ordering=` is refused (leave it out instead), so an
    ordering list has at least one field."""
    for item in result.get("paths", {}).values():
        for operation in item.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                if parameter["name"] == "ordering" and parameter["schema"].get("type") == "array":
                    parameter["schema"]["minItems"] = 1
    return result


def document_text_without_nul(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing: DRF's CharField refuses a NUL character (PostgreSQL
    stores none), so a free-text body field says so with a pattern."""
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if not name.endswith("Request"):
            continue
        for field in component.get("properties", {}).values():
            if field.get("type") == "string" and not {"enum", "format", "pattern"} & set(field):
                field["pattern"] = "^[^\\x00]*$"
    return result


# Lists a service, not the serializer, refuses empty (with its own error code).
REFUSED_EMPTY_BY_SERVICE = {("OrderInputRequest", "lines")}


def document_list_minimums(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing: a list that refuses to be empty (`allow_empty=False`,
    `min_length`) says so with `minItems`, which drf-spectacular leaves out."""
    schemas = result.get("components", {}).get("schemas", {})
    for component, name in REFUSED_EMPTY_BY_SERVICE:
        schemas[component]["properties"][name]["minItems"] = 1
    for component in generator.registry._components.values():
        properties = schemas.get(component.name, {}).get("properties", {})
        fields = getattr(component.object, "fields", None)
        if component.type != "schemas" or not properties or fields is None:
            continue
        for name, field in fields.items():
            if name not in properties or not isinstance(
                field, serializers.ListSerializer | serializers.ListField
            ):
                continue
            # DRF sets ListSerializer.min_length in __init__; djangorestframework-stubs
            # 3.16.9 takes the argument but does not declare the attribute.
            min_length = field.min_length  # type: ignore[union-attr]
            minimum = max(min_length or 0, 0 if field.allow_empty else 1)
            if minimum:
                properties[name]["minItems"] = minimum
    return result
