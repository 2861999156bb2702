"""What a connector has seen: health, SKU mappings, reconciliation reports and drift."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from connectors.api.serializers import (
    DriftPointOutput,
    HealthOutput,
    MappingOutput,
    ReportOutput,
    ReportSummaryOutput,
)
from connectors.api.views.common import NOT_FOUND, connector_or_404
from connectors.models import ReconciliationReport, SkuMapping
from connectors.sync.selectors import drift_history, sync_health
from inventory_hub.api.errors import ApiError
from inventory_hub.api.schema import LIST_ERRORS, READ_ERRORS, error_response

MAX_DRIFT_POINTS = 366


class ConnectorHealthView(APIView):
    @extend_schema(
        operation_id="connectors_health",
        summary="A connector's sync log: last pull and push, failed poll parts, push state, "
        "errors, latency, queues, breaker, open problems with their counts",
        responses={200: HealthOutput, **READ_ERRORS, **NOT_FOUND},
    )
    def get(self, request, pk: int):
        return Response(HealthOutput(sync_health(connector_or_404(pk))).data)


class ConnectorMappingsView(generics.ListAPIView):
    serializer_class = MappingOutput
    queryset = SkuMapping.objects.none()  # for the schema; the real one needs the connector

    def get_queryset(self) -> QuerySet[SkuMapping]:
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        connector = connector_or_404(self.kwargs["pk"])
        return (
            SkuMapping.objects.filter(connector=connector)
            .select_related("variant")
            .order_by("variant__sku", "pk")
        )

    @extend_schema(
        operation_id="connectors_mappings",
        summary="A connector's SKU mappings and what the store last confirmed",
        responses={200: MappingOutput(many=True), **LIST_ERRORS, **NOT_FOUND},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ReconciliationListView(generics.ListAPIView):
    serializer_class = ReportSummaryOutput
    queryset = ReconciliationReport.objects.none()  # for the schema

    def get_queryset(self) -> QuerySet[ReconciliationReport]:
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        connector = connector_or_404(self.kwargs["pk"])
        return ReconciliationReport.objects.filter(connector=connector).order_by(
            "-created_at", "-pk"
        )

    @extend_schema(
        operation_id="connectors_reconciliations_list",
        summary="A connector's reconciliation reports, newest first",
        responses={200: ReportSummaryOutput(many=True), **LIST_ERRORS, **NOT_FOUND},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ReconciliationDetailView(APIView):
    @extend_schema(
        operation_id="connectors_reconciliations_retrieve",
        summary="One reconciliation report with its unmapped SKUs and per-SKU findings",
        responses={
            200: ReportOutput,
            **READ_ERRORS,
            404: error_response("unknown_connector, unknown_report"),
        },
    )
    def get(self, request, pk: int, report_id: int):
        connector = connector_or_404(pk)
        report = ReconciliationReport.objects.filter(pk=report_id, connector=connector).first()
        if report is None:
            raise ApiError(
                status_code=status.HTTP_404_NOT_FOUND,
                code="unknown_report",
                message=f"Connector {pk} has no reconciliation report {report_id}.",
                details={"connector": pk, "report": report_id},
            )
        return Response(ReportOutput(report).data)


class DriftQuery(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=MAX_DRIFT_POINTS, default=30)


class ConnectorDriftView(APIView):
    @extend_schema(
        operation_id="connectors_drift",
        summary="Drift over time: counts of each of the last reconciliations, oldest first",
        parameters=[
            OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": MAX_DRIFT_POINTS},
                description=f"How many runs (1 to {MAX_DRIFT_POINTS}, default 30).",
            )
        ],
        responses={
            200: DriftPointOutput(many=True),
            400: error_response("validation_error: limit"),
            **READ_ERRORS,
            **NOT_FOUND,
        },
    )
    def get(self, request, pk: int):
        connector = connector_or_404(pk)
        query = DriftQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        points = drift_history(connector, limit=query.validated_data["limit"])
        return Response(DriftPointOutput(points, many=True).data)
