"""Storefront availability: public, throttled per IP, cached by the hub and by the browser."""

from dataclasses import asdict

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from inventory_hub.api.errors import ApiError
from inventory_hub.api.schema import error_response
from inventory_hub.api.throttling import AnonymousRateThrottle
from stock.api.serializers.availability import AvailabilityOutput, AvailabilityQuery
from stock.availability import MAX_SKUS, storefront_availability
from stock.errors import UnknownChannel
from stock.selectors import get_channel_by_code
from warehouses.models import SalesChannel

CHANNEL_CODE = {
    "type": "string",
    "minLength": 1,
    "maxLength": 32,
    "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]*$",
}
# The schema shows one SKU per value; a value may also carry several, comma-separated.
SKUS = {
    "type": "array",
    "items": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[^,\\s\\x00]+$"},
    "minItems": 1,
    "maxItems": MAX_SKUS,
}


class AvailabilityView(APIView):
    # No authentication at all: a storefront sending a stale or garbage token must still get
    # its answer, and every caller is throttled alike, per IP.
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [AnonymousRateThrottle]

    @extend_schema(
        operation_id="availability",
        summary="What a channel may sell of some SKUs, for a storefront (public, cached)",
        auth=[],
        parameters=[
            OpenApiParameter("channel", CHANNEL_CODE, required=True, description="Channel code."),
            OpenApiParameter(
                "sku",
                SKUS,
                style="form",
                explode=True,
                required=True,
                description=f"Repeat (sku=A&sku=B) or separate with commas (sku=A,B); at most "
                f"{MAX_SKUS} distinct SKUs.",
            ),
        ],
        responses={
            200: OpenApiResponse(
                AvailabilityOutput,
                description="Cache-Control: public, max-age=AVAILABILITY_CACHE_SECONDS.",
            ),
            400: error_response("validation_error: details name the parameter (channel, sku)"),
            404: error_response("unknown_channel: no active channel has this code"),
            429: error_response("throttled: too many requests (see the Retry-After header)"),
        },
    )
    def get(self, request):
        query = AvailabilityQuery(data=_query_data(request.query_params))
        query.is_valid(raise_exception=True)
        channel = _active_channel(query.validated_data["channel"])
        items, unknown = storefront_availability(channel=channel, skus=query.validated_data["sku"])
        body = AvailabilityOutput(
            {
                "channel": channel.code,
                "items": [asdict(item) for item in items],
                "unknown_skus": unknown,
            }
        ).data
        response = Response(body, status=status.HTTP_200_OK)
        response["Cache-Control"] = f"public, max-age={settings.AVAILABILITY_CACHE_SECONDS}"
        return response


def _query_data(params) -> dict:
    """channel, and the SKUs of every sku parameter split on commas, blanks and repeats dropped."""
    data = {}
    if "channel" in params:
        data["channel"] = params["channel"]
    if "sku" in params:
        skus = (sku.strip() for value in params.getlist("sku") for sku in value.split(","))
        data["sku"] = list(dict.fromkeys(sku for sku in skus if sku))
    return data


def _active_channel(code: str) -> SalesChannel:
    """An inactive channel answers like an unknown one: a storefront learns nothing from it."""
    not_found = ApiError(
        status_code=status.HTTP_404_NOT_FOUND,
        code="unknown_channel",
        message=f"No active sales channel has code {code!r}.",
        details={"channel": code},
    )
    try:
        channel = get_channel_by_code(code)
    except UnknownChannel:
        raise not_found from None
    if not channel.is_active:
        raise not_found
    return channel
