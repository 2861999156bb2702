"""Silences over HTTP: every role reads them; ops staff and warehouse managers create them
(the author is the user); ops staff expire any, a manager the ones they made."""

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts.access import may_expire
from alerts.api.filters import SilenceFilter
from alerts.api.permissions import Silencers
from alerts.api.serializers.alerts import NoInput, SilenceInput, SilenceOutput
from alerts.models import Silence
from alerts.services import create_silence, expire_silence
from inventory_hub.api.idempotency import idempotent
from inventory_hub.api.schema import (
    LIST_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    error_response,
    validated,
)
from stock.api.actors import actor_for


def shown(silence: Silence) -> dict:
    return SilenceOutput(silence, context={"now": timezone.now()}).data


class SilenceListView(generics.ListAPIView):
    permission_classes = [Silencers]
    serializer_class = SilenceOutput
    filter_backends = [DjangoFilterBackend]
    filterset_class = SilenceFilter

    def get_queryset(self) -> QuerySet[Silence]:
        return Silence.objects.order_by("-ends_at", "-pk")

    def get_serializer_context(self) -> dict:
        return {**super().get_serializer_context(), "now": timezone.now()}

    @extend_schema(
        operation_id="silences_list",
        summary="List silences, those ending last first",
        responses={200: SilenceOutput(many=True), **LIST_ERRORS},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="silences_create",
        summary="Silence the alerts whose labels match, until ends_at (you are its author)",
        request=SilenceInput,
        responses={
            201: SilenceOutput,
            **WRITE_ERRORS,
            400: error_response(
                "validation_error (details name each field), malformed_json, invalid_silence "
                "(details.field: matchers, reason, or ends_at not in the future or past a year)"
            ),
            403: error_response("permission_denied: only ops staff and managers silence"),
        },
    )
    @idempotent
    def post(self, request):
        data = validated(SilenceInput, request)
        silence = create_silence(author=actor_for(request), **data)
        return Response(shown(silence), status=status.HTTP_201_CREATED)


class SilenceDetailView(APIView):
    permission_classes = [Silencers]

    @extend_schema(
        operation_id="silences_retrieve",
        summary="One silence",
        responses={200: SilenceOutput, **READ_ERRORS, 404: error_response("not_found")},
    )
    def get(self, request, pk: int):
        return Response(shown(get_object_or_404(Silence, pk=pk)))


class ExpireSilenceView(APIView):
    permission_classes = [Silencers]

    @extend_schema(
        operation_id="silences_expire",
        summary="End a silence now: what it held back goes out at its groups' next look",
        request=None,
        responses={
            200: OpenApiResponse(SilenceOutput, description="Ended now, or had ended."),
            **WRITE_ERRORS,
            403: error_response(
                "permission_denied: the role, or (a manager) a silence someone else made"
            ),
            404: error_response("not_found: no silence has this id"),
        },
    )
    @idempotent
    def post(self, request, pk: int):
        silence = get_object_or_404(Silence, pk=pk)
        if not may_expire(request.user, silence):
            raise PermissionDenied(
                f"You may not expire this silence: {silence.author} made it; a manager "
                "expires their own, ops staff any."
            )
        validated(NoInput, request)
        return Response(shown(expire_silence(silence=silence, actor=actor_for(request))))
