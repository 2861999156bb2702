"""Lanes over HTTP: list, read, create and change. A lane is never deleted (transfers refer
to it): PATCH {"is_active": false} retires it. Reads for every role, writes for ops staff."""

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from inventory_hub.api.idempotency import idempotent
from inventory_hub.api.schema import (
    LIST_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    error_response,
    validated,
)
from transfers.api.filters import LaneFilter
from transfers.api.permissions import LaneManagers
from transfers.api.serializers import LaneChangeInput, LaneInput, LaneOutput
from transfers.models import Lane
from transfers.services import create_lane, update_lane

LANE_ERRORS = {
    **WRITE_ERRORS,
    400: error_response(
        "validation_error (details name each field; an unknown warehouse code, the same "
        "warehouse twice), malformed_json, invalid_lane (the route has a lane already)"
    ),
    403: error_response("permission_denied: only ops staff change lanes"),
}
# A PATCH is naturally safe to repeat: no Idempotency-Key, no 422.
CHANGE_ERRORS = {
    **{code: answer for code, answer in LANE_ERRORS.items() if code != 422},
    404: error_response("not_found: no lane has this id"),
}


def lanes() -> QuerySet[Lane]:
    return Lane.objects.select_related("source", "destination")


class LaneListView(generics.ListAPIView):
    permission_classes = [LaneManagers]
    serializer_class = LaneOutput
    filter_backends = [DjangoFilterBackend]
    filterset_class = LaneFilter

    def get_queryset(self) -> QuerySet[Lane]:
        return lanes().order_by("source__code", "destination__code", "pk")

    @extend_schema(
        operation_id="lanes_list",
        summary="List lanes (routes between warehouses, with lead time and costs)",
        responses={200: LaneOutput(many=True), **LIST_ERRORS},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="lanes_create",
        summary="Create a lane from one warehouse to another",
        request=LaneInput,
        responses={201: LaneOutput, **LANE_ERRORS},
    )
    @idempotent
    def post(self, request):
        data = validated(LaneInput, request)
        lane = create_lane(**data)
        return Response(LaneOutput(lane).data, status=status.HTTP_201_CREATED)


class LaneDetailView(APIView):
    permission_classes = [LaneManagers]

    @extend_schema(
        operation_id="lanes_retrieve",
        summary="One lane",
        responses={200: LaneOutput, **READ_ERRORS, 404: error_response("not_found")},
    )
    def get(self, request, pk: int):
        return Response(LaneOutput(get_object_or_404(lanes(), pk=pk)).data)

    @extend_schema(
        operation_id="lanes_update",
        summary="Change a lane's lead time, costs, minimum or active flag (false retires it)",
        description="The route (source and destination) never changes. Transfers already "
        "made keep what they expected.",
        request=LaneChangeInput,
        responses={200: LaneOutput, **CHANGE_ERRORS},
    )
    def patch(self, request, pk: int):
        lane = get_object_or_404(lanes(), pk=pk)
        lane = update_lane(lane=lane, **validated(LaneChangeInput, request))
        return Response(LaneOutput(lane).data)
