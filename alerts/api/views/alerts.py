"""Alerts over HTTP: list (filtered), read with what made it fire and its notifications,
acknowledge and resolve.

Every role reads every alert. Ops staff and warehouse managers acknowledge (a manager the
alerts of their warehouses, and those of no warehouse); only ops staff resolve by hand.
"""

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts.access import may_acknowledge
from alerts.api.filters import AlertFilter
from alerts.api.permissions import Acknowledgers, AlertReaders, Resolvers
from alerts.api.serializers.alerts import AlertDetailOutput, AlertOutput, NoInput
from alerts.models import Alert, Notification
from alerts.services import acknowledge_alert, resolve_alert
from inventory_hub.api.idempotency import idempotent
from inventory_hub.api.schema import (
    LIST_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    error_response,
    validated,
)
from stock.api.actors import actor_for


def alerts_list() -> QuerySet[Alert]:
    return Alert.objects.select_related("rule", "variant", "warehouse", "channel").order_by(
        "-started_at", "-pk"
    )


def alerts_in_full() -> QuerySet[Alert]:
    notifications = Notification.objects.select_related("receiver").order_by("-created_at", "pk")
    return alerts_list().prefetch_related(Prefetch("notifications", queryset=notifications))


def answer(alert_id: int) -> Response:
    return Response(AlertDetailOutput(alerts_in_full().get(pk=alert_id)).data)


ACTION_ERRORS = {
    **WRITE_ERRORS,
    404: error_response("not_found: no alert has this id"),
    409: error_response("alert_not_active: the alert is resolved"),
}


class AlertListView(generics.ListAPIView):
    permission_classes = [AlertReaders]
    serializer_class = AlertOutput
    filter_backends = [DjangoFilterBackend]
    filterset_class = AlertFilter

    def get_queryset(self) -> QuerySet[Alert]:
        return alerts_list()

    @extend_schema(
        operation_id="alerts_list",
        summary="List alerts (pending, firing, resolved), newest first",
        responses={200: AlertOutput(many=True), **LIST_ERRORS},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class AlertDetailView(APIView):
    permission_classes = [AlertReaders]

    @extend_schema(
        operation_id="alerts_retrieve",
        summary="One alert: what made it fire, and the notifications that told of it",
        responses={200: AlertDetailOutput, **READ_ERRORS, 404: error_response("not_found")},
    )
    def get(self, request, pk: int):
        return Response(AlertDetailOutput(get_object_or_404(alerts_in_full(), pk=pk)).data)


class AcknowledgeAlertView(APIView):
    permission_classes = [Acknowledgers]

    @extend_schema(
        operation_id="alerts_acknowledge",
        summary="Acknowledge an alert: its escalation stops at the next tick",
        description="Once: acknowledging again changes nothing and answers the alert.",
        request=None,
        responses={
            200: OpenApiResponse(AlertDetailOutput, description="Acknowledged, now or before."),
            **ACTION_ERRORS,
            403: error_response(
                "permission_denied: the role, or (a manager) the alert's warehouse is not theirs"
            ),
        },
    )
    @idempotent
    def post(self, request, pk: int):
        alert = get_object_or_404(Alert.objects.select_related("warehouse"), pk=pk)
        if not may_acknowledge(request.user, alert):
            raise PermissionDenied(
                f"You may not acknowledge this alert: it is about {alert.warehouse.code}, "
                "which is not one of your warehouses."
                if alert.warehouse
                else "You may not acknowledge alerts."
            )
        validated(NoInput, request)
        acknowledge_alert(alert=alert, actor=actor_for(request))
        return answer(alert.pk)


class ResolveAlertView(APIView):
    permission_classes = [Resolvers]

    @extend_schema(
        operation_id="alerts_resolve",
        summary="Resolve an alert by hand (ops staff)",
        description="Its groups send the resolved message at their next look; a condition "
        "that still holds fires it again at the next evaluation.",
        request=None,
        responses={
            200: OpenApiResponse(AlertDetailOutput, description="Resolved."),
            **ACTION_ERRORS,
            403: error_response("permission_denied: only ops staff resolve by hand"),
        },
    )
    @idempotent
    def post(self, request, pk: int):
        alert = get_object_or_404(Alert, pk=pk)
        validated(NoInput, request)
        resolve_alert(alert=alert, actor=actor_for(request))
        return answer(alert.pk)
