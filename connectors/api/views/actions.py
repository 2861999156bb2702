"""What ops ask a connector to do: test the connection, sync, reconcile, set up, replay
dead letters and take a partner's CSV feed. Work that takes long answers 202.
"""

from __future__ import annotations

import time

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from connectors.api.parsers import CsvBodyParser, FeedFileParser
from connectors.api.serializers import (
    FeedQueuedOutput,
    FeedUploadInput,
    QueuedOutput,
    ReconcileQueuedOutput,
    ReplayOutput,
    SetupInput,
    SyncInput,
    TestConnectionOutput,
)
from connectors.api.views.common import (
    INACTIVE,
    NOT_FOUND,
    UPDATE_ERRORS,
    active_connector_or_409,
    connector_or_404,
    queued,
)
from connectors.inbound.queue import replay_dead_letters
from connectors.models import SyncRun, SyncRunKind
from connectors.partner.csv_feed import MalformedFeed
from connectors.sync.common import describe, open_store
from connectors.sync.feeds import MAX_FEED_BYTES, FeedNotAccepted, upload_feed
from connectors.sync.reconcile import start_reconciliation
from connectors.sync.tasks import poll_connector_task, set_up_connector_task
from inventory_hub.api.errors import ApiError
from inventory_hub.api.idempotency import idempotent
from inventory_hub.api.schema import WRITE_ERRORS, error_response, validated


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
        connector = connector_or_404(pk)
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
        connector = active_connector_or_409(pk)
        poll_connector_task.delay_on_commit(connector.pk, data["full"])
        return queued(QueuedOutput, {"queued": "poll", "connector": connector.pk})


class ReconcileNowView(APIView):
    @extend_schema(
        operation_id="connectors_reconcile",
        summary="Reconcile now: a worker compares the store with the hub and corrects it",
        request=None,
        responses={202: ReconcileQueuedOutput, **WRITE_ERRORS, **NOT_FOUND, **INACTIVE},
    )
    @idempotent
    def post(self, request, pk: int):
        connector = active_connector_or_409(pk)
        report = start_reconciliation(connector_id=connector.pk)
        return queued(
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
        connector = active_connector_or_409(pk)
        set_up_connector_task.delay_on_commit(
            connector.pk, data["match_skus"], data["map_locations"], data["register_webhooks"]
        )
        return queued(QueuedOutput, {"queued": "setup", "connector": connector.pk})


class ReplayDeadLettersView(APIView):
    @extend_schema(
        operation_id="connectors_replay_dead_letters",
        summary="Replay dead letters: queue the connector's dead inbox events again",
        request=None,
        responses={200: ReplayOutput, **WRITE_ERRORS, **NOT_FOUND},
    )
    @idempotent
    def post(self, request, pk: int):
        connector = connector_or_404(pk)
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
        connector = connector_or_404(pk)
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
        return queued(
            FeedQueuedOutput,
            {
                "queued": "feed",
                "connector": connector.pk,
                "event": stored.event_id,
                "rows": stored.rows,
            },
        )
