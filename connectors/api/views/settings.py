"""Connectors themselves: list, create, read, change, delete, archive and restore."""

from __future__ import annotations

import django_filters
from django.db import IntegrityError
from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from connectors.api.serializers import ConnectorInput, ConnectorOutput
from connectors.api.views.common import (
    NOT_FOUND,
    UPDATE_ERRORS,
    connector_or_404,
    connector_queryset,
    settings_refused,
)
from connectors.models import Connector, ConnectorKind
from connectors.sync.configure import (
    ConnectorHasHistory,
    InvalidConnectorSettings,
    archive_connector,
    create_connector,
    delete_connector,
    restore_connector,
    update_connector,
)
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


class ConnectorListView(generics.ListAPIView):
    serializer_class = ConnectorOutput
    # Only the filterset's ordering: DRF's own would document `ordering` as any text.
    filter_backends = [DjangoFilterBackend]
    filterset_class = ConnectorFilter

    def get_queryset(self) -> QuerySet[Connector]:
        return connector_queryset().order_by("name", "pk")

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
            raise settings_refused(error) from None
        except IntegrityError as error:
            if "name" not in str(error):
                raise
            raise serializers.ValidationError({"name": ["That name is already taken."]}) from None
        return Response(
            ConnectorOutput(connector_or_404(connector.pk)).data, status=status.HTTP_201_CREATED
        )


class ConnectorDetailView(APIView):
    @extend_schema(
        operation_id="connectors_retrieve",
        summary="Read one connector's settings (never its secrets)",
        responses={200: ConnectorOutput, **READ_ERRORS, **NOT_FOUND},
    )
    def get(self, request, pk: int):
        return Response(ConnectorOutput(connector_or_404(pk), context={"request": request}).data)

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
        connector = connector_or_404(pk)
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
        connector = connector_or_404(pk)
        data = validated(ConnectorInput, request, instance=connector, partial=partial)
        data.pop("kind", None)
        try:
            update_connector(connector, **data)
        except InvalidConnectorSettings as error:
            raise settings_refused(error) from None
        except IntegrityError as error:
            if "name" not in str(error):
                raise
            raise serializers.ValidationError({"name": ["That name is already taken."]}) from None
        return Response(ConnectorOutput(connector_or_404(pk)).data)


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
        archive_connector(connector_id=connector_or_404(pk).pk)
        return Response(ConnectorOutput(connector_or_404(pk)).data)


class RestoreView(APIView):
    @extend_schema(
        operation_id="connectors_restore",
        summary="Restore an archived connector; it stays switched off until switched on",
        request=None,
        responses={200: ConnectorOutput, **UPDATE_ERRORS, **NOT_FOUND},
    )
    def post(self, request, pk: int):
        restore_connector(connector_id=connector_or_404(pk).pk)
        return Response(ConnectorOutput(connector_or_404(pk)).data)
