"""What every connector view shares: finding the connector, the documented error replies
and the 202 answer of queued work.
"""

from __future__ import annotations

from django.db.models import QuerySet
from rest_framework import serializers, status
from rest_framework.response import Response

from connectors.models import Connector
from connectors.sync.configure import InvalidConnectorSettings
from inventory_hub.api.errors import ApiError
from inventory_hub.api.schema import WRITE_ERRORS, error_response

NOT_FOUND = {404: error_response("unknown_connector")}
INACTIVE = {409: error_response("inactive_connector: switch the connector on first")}
# Updates and the connection test are not idempotent-keyed (safe to repeat as they are).
UPDATE_ERRORS = {code: response for code, response in WRITE_ERRORS.items() if code != 422}


def connector_queryset() -> QuerySet[Connector]:
    return Connector.objects.select_related("channel").prefetch_related(
        "location_mappings__warehouse"
    )


def connector_or_404(pk: int) -> Connector:
    connector = connector_queryset().filter(pk=pk).first()
    if connector is None:
        raise ApiError(
            status_code=status.HTTP_404_NOT_FOUND,
            code="unknown_connector",
            message=f"No connector has id {pk}.",
            details={"connector": pk},
        )
    return connector


def active_connector_or_409(pk: int) -> Connector:
    connector = connector_or_404(pk)
    if not connector.is_active:
        raise ApiError(
            status_code=status.HTTP_409_CONFLICT,
            code="inactive_connector",
            message=f"Connector {connector.name} is switched off.",
            details={"connector": pk},
        )
    return connector


def queued(output: type[serializers.Serializer], reply: dict) -> Response:
    """202: a worker does the rest; `reply` names what was queued."""
    return Response(output(reply).data, status=status.HTTP_202_ACCEPTED)


def settings_refused(error: InvalidConnectorSettings) -> serializers.ValidationError:
    return serializers.ValidationError({error.field: [str(error)]})
