"""Forecasts and projections per SKU over HTTP (every role reads)."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from inventory_hub.api.schema import READ_ERRORS, error_response
from stock.models import Variant
from suggestions.api.permissions import SuggestionDeciders
from suggestions.api.serializers import VariantOutlookOutput
from suggestions.selectors import variant_outlook


class VariantOutlookView(APIView):
    permission_classes = [SuggestionDeciders]

    @extend_schema(
        operation_id="variants_outlook",
        summary="A variant's forecast, cover and projected stock, per warehouse",
        description="Per warehouse that stocks it: the demand class and forecast method, "
        "forecast per day, safety stock, reorder point, days of cover, the first projected "
        "run-out date and the projected sellable quantity for today and the next 28 days "
        "(on hand minus holds, plus transfers and inbound by arrival date).",
        responses={200: VariantOutlookOutput, **READ_ERRORS, 404: error_response("not_found")},
    )
    def get(self, request, sku: str):
        variant = get_object_or_404(Variant, sku=sku)
        outlook = {"sku": variant.sku, "warehouses": variant_outlook(variant)}
        return Response(VariantOutlookOutput(outlook).data)
