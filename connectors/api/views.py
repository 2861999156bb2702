"""Connectors over HTTP: their settings, health, mappings and reconciliation reports, and
the actions ops take (test the connection, sync now, reconcile now, set up, replay dead
letters, upload a partner's CSV feed, archive, restore, delete).

Everyone with a role reads; only ops staff change anything (the default permission).
Credentials and webhook secrets are accepted, never returned. Actions that start work
answer 202 and leave it to a worker; the ones that change something take an
Idempotency-Key.
"""

from __future__ import annotations

import time

import django_filters
from django.db import IntegrityError
from django.db.models import QuerySet
from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from connectors.inbound.queue import replay_dead_letters
from connectors.models import (
    Connector,
    ConnectorKind,
    ReconciliationReport,
    SkuMapping,
    SyncRun,
    SyncRunKind,
)
from connectors.partner.csv_feed import MalformedFeed
from connectors.sync.common import describe, open_store
from connectors.sync.configure import (
    ConnectorHasHistory,
    InvalidConnectorSettings,
    archive_connector,
    create_connector,
    delete_connector,
    restore_connector,
    update_connector,
)
from connectors.sync.feeds import MAX_FEED_BYTES, FeedNotAccepted, upload_feed
from connectors.sync.reconcile import start_reconciliation
from connectors.sync.selectors import drift_history, sync_health
from connectors.sync.tasks import poll_connector_task, set_up_connector_task
from inventory_hub.api.errors import ApiError
from inventory_hub.api.filters import StableOrderingFilter, StrictBooleanFilter, StrictFilterSet
from inventory_hub.api.idempotency import idempotent
from inventory_hub.api.schema import (
    LIST_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    error_response,
    validated,
)

from .parsers import CsvBodyParser, FeedFileParser
from .serializers import (
    ConnectorInput,
    ConnectorOutput,
    DriftPointOutput,
    FeedQueuedOutput,
    FeedUploadInput,
    HealthOutput,
    MappingOutput,
    QueuedOutput,
    ReconcileQueuedOutput,
    ReplayOutput,
    ReportOutput,
    ReportSummaryOutput,
    SetupInput,
    SyncInput,
    TestConnectionOutput,
)

NOT_FOUND = {404: error_response("unknown_connector")}
INACTIVE = {409: error_response("inactive_connector: switch the connector on first")}
# Updates and the connection test are not idempotent-keyed (safe to repeat as they are).
UPDATE_ERRORS = {code: response for code, response in WRITE_ERRORS.items() if code != 422}
MAX_DRIFT_POINTS = 366


def _connectors() -> QuerySet[Connector]:
    return Connector.objects.select_related("channel").prefetch_related(
        "location_mappings__warehouse"
    )


def _connector(pk: int) -> Connector:
    connector = _connectors().filter(pk=pk).first()
    if connector is None:
        raise ApiError(
            status_code=status.HTTP_404_NOT_FOUND,
            code="unknown_connector",
            message=f"No connector has id {pk}.",
            details={"connector": pk},
        )
    return connector


def _active(pk: int) -> Connector:
    connector = _connector(pk)
    if not connector.is_active:
        raise ApiError(
            status_code=status.HTTP_409_CONFLICT,
            code="inactive_connector",
            message=f"Connector {connector.name} is switched off.",
            details={"connector": pk},
        )
    return connector


def _queued(output: type[serializers.Serializer], reply: dict) -> Response:
    """202: a worker does the rest; `reply` names what was queued."""
    return Response(output(reply).data, status=status.HTTP_202_ACCEPTED)


def _settings_refused(error: InvalidConnectorSettings) -> serializers.ValidationError:
    return serializers.ValidationError({error.field: [str(error)]})


class ConnectorFilter(StrictFilterSet):
    is_active = StrictBooleanFilter()
    archived = StrictBooleanFilter(
        method="filter_archived",
        help_text="true: only archived connectors; false (the default): only the others.",
    )
    kind = django_filters.ChoiceFilter(choices=ConnectorKind.choices)
    ordering = StableOrderingFilter(fields=["name", "created_at"])

    class Meta:
        model = Connector
        fields = ["is_active", "kind"]

    def filter_queryset(self, queryset):
        # Archived connectors are hidden unless asked for.
        if self.form.cleaned_data.get("archived") in (None, ""):
            queryset = queryset.filter(archived_at__isnull=True)
        return super().filter_queryset(queryset)

    def filter_archived(self, queryset, name: str, value: bool):
        return queryset.filter(archived_at__isnull=not value)


# --- Connectors -------------------------------------------------------------------------------


class ConnectorListView(generics.ListAPIView):
    serializer_class = ConnectorOutput
    # Only the filterset's ordering: DRF's own would document `ordering` as any text.
    filter_backends = [DjangoFilterBackend]
    filterset_class = ConnectorFilter

    def get_queryset(self) -> QuerySet[Connector]:
        return _connectors().order_by("name", "pk")

    @extend_schema(
        operation_id="connectors_list",
        summary="List connectors (stores, marketplaces, partners); archived ones on request",
        responses={200: ConnectorOutput(many=True), **LIST_ERRORS},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="connectors_create",
        summary="Create a connector; credentials and webhook secret are write-only",
        description="The store class checks `options` and `base_url` before anything is "
        "stored. Set the connector up afterwards (POST …/setup/) to match SKUs and register "
        "webhooks; its first poll does that by itself.",
        request=ConnectorInput,
        responses={201: ConnectorOutput, **WRITE_ERRORS},
    )
    @idempotent
    def post(self, request):
        data = validated(ConnectorInput, request)
        try:
            connector = create_connector(**data)
        except InvalidConnectorSettings as error:
            raise _settings_refused(error) from None
        except IntegrityError as error:
            if "name" not in str(error):
                raise
            raise serializers.ValidationError({"name": ["That name is already taken."]}) from None
        return Response(
            ConnectorOutput(_connector(connector.pk)).data, status=status.HTTP_201_CREATED
        )


class ConnectorDetailView(APIView):
    @extend_schema(
        operation_id="connectors_retrieve",
        summary="Read one connector's settings (never its secrets)",
        responses={200: ConnectorOutput, **READ_ERRORS, **NOT_FOUND},
    )
    def get(self, request, pk: int):
        return Response(ConnectorOutput(_connector(pk), context={"request": request}).data)

    @extend_schema(
        operation_id="connectors_replace",
        summary="Replace a connector's settings (the kind cannot change)",
        description="Omitted `credentials` / `webhook_secret` keep what is stored; "
        "`locations`, when given, replaces every location mapping.",
        request=ConnectorInput,
        responses={200: ConnectorOutput, **UPDATE_ERRORS, **NOT_FOUND},
    )
    def put(self, request, pk: int):
        return self._update(request, pk, partial=False)

    @extend_schema(
        operation_id="connectors_update",
        summary="Change some of a connector's settings; is_active=false switches it off",
        request=ConnectorInput,
        responses={200: ConnectorOutput, **UPDATE_ERRORS, **NOT_FOUND},
    )
    def patch(self, request, pk: int):
        return self._update(request, pk, partial=True)

    @extend_schema(
        operation_id="connectors_destroy",
        summary="Delete a connector that has no history; archive one that has",
        description="Only a connector that never exchanged anything with its store (no "
        "inbox events, outbox rows, sync runs, SKU mappings, reconciliation reports, "
        "problems or status changes) is deleted, with its location mappings and status "
        "rules. Any other is refused with 409 `connector_has_history`, whose details count "
        "what it holds: archive it instead (POST …/archive/), which keeps its history.",
        request=None,
        responses={
            204: None,
            **UPDATE_ERRORS,
            **NOT_FOUND,
            409: error_response("connector_has_history (details: counts by kind of record)"),
        },
    )
    def delete(self, request, pk: int):
        connector = _connector(pk)
        try:
            delete_connector(connector_id=connector.pk)
        except ConnectorHasHistory as refusal:
            raise ApiError(
                status_code=status.HTTP_409_CONFLICT,
                code="connector_has_history",
                message=str(refusal),
                details={"connector": pk, "history": refusal.history},
            ) from None
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _update(self, request, pk: int, *, partial: bool) -> Response:
        connector = _connector(pk)
        data = validated(ConnectorInput, request, instance=connector, partial=partial)
        data.pop("kind", None)
        try:
            update_connector(connector, **data)
        except InvalidConnectorSettings as error:
            raise _settings_refused(error) from None
        except IntegrityError as error:
            if "name" not in str(error):
                raise
            raise serializers.ValidationError({"name": ["That name is already taken."]}) from None
        return Response(ConnectorOutput(_connector(pk)).data)


class ArchiveView(APIView):
    @extend_schema(
        operation_id="connectors_archive",
        summary="Archive a connector: switched off for good, hidden, its history kept",
        description="Always possible. The connector is switched off (no polls, pushes, "
        "watchdog or reconciliation; its store's deliveries are refused like any "
        "switched-off connector's), left out of the connector list unless `archived=true` "
        "is asked for and off the Connectors page, and its open problems are closed. Its "
        "inbox, outbox, runs, mappings and reports stay. It cannot be switched on until "
        "restored (POST …/restore/). Repeating it changes nothing.",
        request=None,
        responses={200: ConnectorOutput, **UPDATE_ERRORS, **NOT_FOUND},
    )
    def post(self, request, pk: int):
        archive_connector(connector_id=_connector(pk).pk)
        return Response(ConnectorOutput(_connector(pk)).data)


class RestoreView(APIView):
    @extend_schema(
        operation_id="connectors_restore",
        summary="Restore an archived connector; it stays switched off until switched on",
        request=None,
        responses={200: ConnectorOutput, **UPDATE_ERRORS, **NOT_FOUND},
    )
    def post(self, request, pk: int):
        restore_connector(connector_id=_connector(pk).pk)
        return Response(ConnectorOutput(_connector(pk)).data)


class ConnectorHealthView(APIView):
    @extend_schema(
        operation_id="connectors_health",
        summary="A connector's sync log: last pull and push, failed poll parts, push state, "
        "errors, latency, queues, breaker, open problems with their counts",
        responses={200: HealthOutput, **READ_ERRORS, **NOT_FOUND},
    )
    def get(self, request, pk: int):
        return Response(HealthOutput(sync_health(_connector(pk))).data)


class ConnectorMappingsView(generics.ListAPIView):
    serializer_class = MappingOutput
    queryset = SkuMapping.objects.none()  # for the schema; the real one needs the connector

    def get_queryset(self) -> QuerySet[SkuMapping]:
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        connector = _connector(self.kwargs["pk"])
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
        connector = _connector(self.kwargs["pk"])
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
        connector = _connector(pk)
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
        connector = _connector(pk)
        query = DriftQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        points = drift_history(connector, limit=query.validated_data["limit"])
        return Response(DriftPointOutput(points, many=True).data)


# --- Actions ----------------------------------------------------------------------------------


class TestConnectionView(APIView):
    @extend_schema(
        operation_id="connectors_test",
        summary="Test the connection: the store answers and accepts the credentials",
        description="Answers 200 either way; `ok` says whether the store did. Recorded in "
        "the sync log.",
        request=None,
        responses={200: TestConnectionOutput, **UPDATE_ERRORS, **NOT_FOUND},
    )
    def post(self, request, pk: int):
        connector = _connector(pk)
        started_at = timezone.now()
        clock = time.monotonic()
        error = ""
        try:
            open_store(connector).test_connection()
        except Exception as exc:
            # Any failure of the store or of its settings is the answer, not a 500.
            error = describe(exc)
        latency_ms = int((time.monotonic() - clock) * 1000)
        SyncRun.objects.create(
            connector=connector,
            kind=SyncRunKind.TEST,
            started_at=started_at,
            finished_at=timezone.now(),
            is_ok=not error,
            error=error,
            latency_ms=latency_ms,
        )
        return Response(
            TestConnectionOutput({"ok": not error, "latency_ms": latency_ms, "error": error}).data
        )


class SyncNowView(APIView):
    @extend_schema(
        operation_id="connectors_sync",
        summary="Sync now: a worker polls the store's stock and orders",
        request=SyncInput,
        responses={202: QueuedOutput, **WRITE_ERRORS, **NOT_FOUND, **INACTIVE},
    )
    @idempotent
    def post(self, request, pk: int):
        data = validated(SyncInput, request)
        connector = _active(pk)
        poll_connector_task.delay_on_commit(connector.pk, data["full"])
        return _queued(QueuedOutput, {"queued": "poll", "connector": connector.pk})


class ReconcileNowView(APIView):
    @extend_schema(
        operation_id="connectors_reconcile",
        summary="Reconcile now: a worker compares the store with the hub and corrects it",
        request=None,
        responses={202: ReconcileQueuedOutput, **WRITE_ERRORS, **NOT_FOUND, **INACTIVE},
    )
    @idempotent
    def post(self, request, pk: int):
        connector = _active(pk)
        report = start_reconciliation(connector_id=connector.pk)
        return _queued(
            ReconcileQueuedOutput,
            {"queued": "reconcile", "connector": connector.pk, "report": report.pk},
        )


class SetupView(APIView):
    @extend_schema(
        operation_id="connectors_setup",
        summary="Set up: match SKUs, map Magento sources, register WooCommerce webhooks",
        description="Only adds what is missing; safe to repeat. The outcome is a `setup` "
        "run in the sync log, and unmapped SKUs become problems.",
        request=SetupInput,
        responses={202: QueuedOutput, **WRITE_ERRORS, **NOT_FOUND, **INACTIVE},
    )
    @idempotent
    def post(self, request, pk: int):
        data = validated(SetupInput, request)
        connector = _active(pk)
        set_up_connector_task.delay_on_commit(
            connector.pk, data["match_skus"], data["map_locations"], data["register_webhooks"]
        )
        return _queued(QueuedOutput, {"queued": "setup", "connector": connector.pk})


class ReplayDeadLettersView(APIView):
    @extend_schema(
        operation_id="connectors_replay_dead_letters",
        summary="Replay dead letters: queue the connector's dead inbox events again",
        request=None,
        responses={200: ReplayOutput, **WRITE_ERRORS, **NOT_FOUND},
    )
    @idempotent
    def post(self, request, pk: int):
        connector = _connector(pk)
        return Response(
            ReplayOutput({"replayed": replay_dead_letters(connector_id=connector.pk)}).data
        )


class FeedUploadView(APIView):
    parser_classes = [FeedFileParser, CsvBodyParser]

    @extend_schema(
        operation_id="connectors_feed_upload",
        summary="Upload a partner's CSV stock feed: checked whole, kept, applied by a worker",
        description="The file is read with the connector's `csv_columns` and `delimiter` "
        "before anything is stored; a file with any problem is refused naming its line and "
        "column, and nothing is kept. A good file is kept as it is, as an inbox event (like "
        "a webhook delivery), and a worker applies it by ownership: counts where the partner "
        "owns stock, drift overwritten by a push where the hub does. Send it as multipart "
        f"field `file` or as a text/csv body; at most {MAX_FEED_BYTES // (1024 * 1024)} MB.",
        # An empty text/csv body is refused like a missing file.
        request={
            "multipart/form-data": FeedUploadInput,
            "text/csv": {"type": "string", "minLength": 1},
        },
        responses={
            202: FeedQueuedOutput,
            **WRITE_ERRORS,
            400: error_response(
                "malformed_feed (details: line, column), validation_error: file (missing or "
                "too large), malformed_json: an unreadable multipart body"
            ),
            **NOT_FOUND,
            409: error_response(
                "inactive_connector: switch the connector on first; no_csv_feed: only "
                "partner connectors read CSV feeds"
            ),
            415: error_response("unsupported_media_type: send multipart/form-data or text/csv"),
        },
    )
    @idempotent
    def post(self, request, pk: int):
        connector = _connector(pk)
        content = request.data.get("content") if isinstance(request.data, dict) else None
        if content is None:
            raise serializers.ValidationError(
                {"file": ["Required: the CSV as multipart field 'file' or as a text/csv body."]}
            )
        if len(content) > MAX_FEED_BYTES:
            raise serializers.ValidationError(
                {"file": [f"At most {MAX_FEED_BYTES // (1024 * 1024)} MB."]}
            )
        try:
            stored = upload_feed(
                connector=connector,
                data=content,
                file_name=request.data.get("file_name") or "",
                uploaded_by=request.user.get_username(),
            )
        except FeedNotAccepted as refusal:
            raise ApiError(
                status_code=status.HTTP_409_CONFLICT,
                code=refusal.code,
                message=str(refusal),
                details={"connector": pk},
            ) from None
        except MalformedFeed as problem:
            raise ApiError(
                status_code=status.HTTP_400_BAD_REQUEST,
                code="malformed_feed",
                message=str(problem),
                details={"line": problem.line, "column": problem.column},
            ) from None
        return _queued(
            FeedQueuedOutput,
            {
                "queued": "feed",
                "connector": connector.pk,
                "event": stored.event_id,
                "rows": stored.rows,
            },
        )
