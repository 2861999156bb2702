"""Suggestions over HTTP: list (filtered, or grouped by lane), read one, and the settings.

Every role reads; ops staff change the settings. Deciding a suggestion is in
`decisions.py`; forecasts and projections per SKU in `outlook.py`.
"""

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from inventory_hub.api.schema import (
    LIST_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    error_response,
    validated,
)
from stock.api.actors import actor_for
from suggestions.api.filters import SuggestionFilter
from suggestions.api.permissions import SettingsManagers, SuggestionDeciders
from suggestions.api.serializers import (
    LaneGroupOutput,
    SettingsInput,
    SettingsOutput,
    SuggestionOutput,
)
from suggestions.events import publish_suggestions_changed
from suggestions.listing import lanes_of_open_suggestions, settings_now, suggestions_list
from suggestions.models import Suggestion
from suggestions.services.settings import update_settings


class SuggestionListView(generics.ListAPIView):
    permission_classes = [SuggestionDeciders]
    serializer_class = SuggestionOutput
    filter_backends = [DjangoFilterBackend]
    filterset_class = SuggestionFilter

    def get_queryset(self) -> QuerySet[Suggestion]:
        return suggestions_list()

    @extend_schema(
        operation_id="suggestions_list",
        summary="List transfer suggestions, by lane and then by value, highest first",
        description="Every state unless filtered: ?state=open for those waiting for a decision.",
        responses={200: SuggestionOutput(many=True), **LIST_ERRORS},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class SuggestionLaneListView(APIView):
    permission_classes = [SuggestionDeciders]

    @extend_schema(
        operation_id="suggestions_lanes",
        summary="Open suggestions grouped by lane, with each lane's units, value and cost",
        description="One entry per lane with open suggestions: what approving the lane "
        "would create (one transfer). Not paginated.",
        responses={200: LaneGroupOutput(many=True), **READ_ERRORS},
    )
    def get(self, request):
        return Response(LaneGroupOutput(lanes_of_open_suggestions(), many=True).data)


class SuggestionDetailView(APIView):
    permission_classes = [SuggestionDeciders]

    @extend_schema(
        operation_id="suggestions_retrieve",
        summary="One suggestion, with its structured reason and its sentence",
        responses={200: SuggestionOutput, **READ_ERRORS, 404: error_response("not_found")},
    )
    def get(self, request, pk: int):
        return Response(SuggestionOutput(get_object_or_404(suggestions_list(), pk=pk)).data)


class SettingsView(APIView):
    permission_classes = [SettingsManagers]

    @extend_schema(
        operation_id="suggestion_settings_retrieve",
        summary="The merchant's suggestion settings (the cost of a lost sale and others)",
        responses={200: SettingsOutput, **READ_ERRORS},
    )
    def get(self, request):
        return Response(SettingsOutput(settings_now()).data)

    @extend_schema(
        operation_id="suggestion_settings_update",
        summary="Change some suggestion settings; the next review uses them",
        request=SettingsInput,
        responses={
            200: SettingsOutput,
            **{code: answer for code, answer in WRITE_ERRORS.items() if code != 422},
            400: error_response(
                "validation_error (details name each field), malformed_json, "
                "invalid_suggestion_settings"
            ),
            403: error_response("permission_denied: only ops staff change the settings"),
        },
    )
    def patch(self, request):
        data = validated(SettingsInput, request)
        saved = update_settings(actor=actor_for(request), **data)
        publish_suggestions_changed()
        return Response(SettingsOutput(saved).data)
