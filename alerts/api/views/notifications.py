"""The delivery log over HTTP: every notification, to whom, its status, and every attempt
to send it. Every role reads it; nothing here writes."""

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts.api.filters import NotificationFilter
from alerts.api.permissions import AlertReaders
from alerts.api.serializers.alerts import NotificationDetailOutput, NotificationOutput
from alerts.models import Alert, Notification
from inventory_hub.api.schema import LIST_ERRORS, READ_ERRORS, error_response


def notifications() -> QuerySet[Notification]:
    return (
        Notification.objects.select_related("receiver")
        .prefetch_related(Prefetch("alerts", queryset=Alert.objects.only("pk")))
        .order_by("-created_at", "pk")
    )


class NotificationListView(generics.ListAPIView):
    permission_classes = [AlertReaders]
    serializer_class = NotificationOutput
    filter_backends = [DjangoFilterBackend]
    filterset_class = NotificationFilter

    def get_queryset(self) -> QuerySet[Notification]:
        return notifications()

    @extend_schema(
        operation_id="alert_notifications_list",
        summary="The delivery log: notifications, newest first",
        responses={200: NotificationOutput(many=True), **LIST_ERRORS},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class NotificationDetailView(APIView):
    permission_classes = [AlertReaders]

    @extend_schema(
        operation_id="alert_notifications_retrieve",
        summary="One notification: what was sent, and every attempt to send it",
        responses={
            200: NotificationDetailOutput,
            **READ_ERRORS,
            404: error_response("not_found"),
        },
    )
    def get(self, request, pk):
        found = get_object_or_404(notifications().prefetch_related("attempt_log"), pk=pk)
        return Response(NotificationDetailOutput(found).data)
