"""Deciding suggestions over HTTP: approve one, a lane or all (real transfers, created and
approved at the source), or dismiss one. Each asks suggestions.access whether the user may
decide at that source (403 naming it) and calls one service.

Repeats are safe: approving a suggestion no longer open skips it, dismissing one dismissed
returns it, and an Idempotency-Key replays the first answer.
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from inventory_hub.api.errors import ApiError
from inventory_hub.api.idempotency import idempotent
from inventory_hub.api.schema import WRITE_ERRORS, error_response, validated
from stock.api.actors import actor_for
from suggestions.access import deciding_for, may_decide
from suggestions.api.permissions import SuggestionDeciders
from suggestions.api.serializers import ApprovalOutput, DismissInput, SuggestionOutput
from suggestions.events import publish_suggestions_changed
from suggestions.listing import suggestions_list
from suggestions.models import Suggestion, SuggestionState
from suggestions.services.decisions import (
    ApprovalResult,
    approve_all,
    approve_lane,
    approve_suggestions,
    dismiss_suggestion,
)
from transfers.models import Lane

DECISION_ERRORS = {
    **WRITE_ERRORS,
    403: error_response(
        "permission_denied: the role, or the user is not of the source warehouse (the "
        "message names it)"
    ),
}


def answer(result: ApprovalResult) -> Response:
    if result.approved_ids:
        publish_suggestions_changed(variant_ids=variants_of(result.approved_ids))
    return Response(ApprovalOutput(result).data)


def variants_of(suggestion_ids: list[int]) -> list[int]:
    return list(
        Suggestion.objects.filter(pk__in=suggestion_ids).values_list("variant_id", flat=True)
    )


def approved(description: str) -> OpenApiResponse:
    return OpenApiResponse(ApprovalOutput, description=description)


def refusal(suggestion: Suggestion, verb: str) -> str:
    return (
        f"You may not {verb} suggestion {suggestion.pk}: that is for the source warehouse "
        f"{suggestion.source.code}'s people or ops staff."
    )


def open_suggestion(pk: int) -> Suggestion:
    return get_object_or_404(suggestions_list(), pk=pk)


class ApproveSuggestionView(APIView):
    permission_classes = [SuggestionDeciders]

    @extend_schema(
        operation_id="suggestions_approve",
        summary="Approve one suggestion: a transfer is created and approved at the source",
        description="The units are held at the source. A suggestion approved already "
        "answers 409 suggestion_not_open; a transfer refused (not enough available, the "
        "lane retired or below its minimum) answers with its code and writes nothing.",
        request=None,
        responses={
            200: approved("Approved: the transfer made."),
            **DECISION_ERRORS,
            404: error_response("not_found: no suggestion has this id"),
            409: error_response(
                "suggestion_not_open (decided or superseded already), or the transfer's "
                "refusal: insufficient_stock, invalid_transfer, lane_not_active (details: "
                "lane, suggestions)"
            ),
        },
    )
    @idempotent
    def post(self, request, pk: int):
        suggestion = open_suggestion(pk)
        if not may_decide(request.user, suggestion):
            raise PermissionDenied(refusal(suggestion, "approve"))
        if suggestion.state != SuggestionState.OPEN:
            raise ApiError(
                status_code=status.HTTP_409_CONFLICT,
                code="suggestion_not_open",
                message=f"Suggestion {pk} is {suggestion.state}: it cannot be approved.",
                details={"state": suggestion.state},
            )
        result = approve_suggestions(suggestion_ids=[pk], actor=actor_for(request))
        if result.refusals:
            refused = result.refusals[0]
            raise ApiError(
                status_code=status.HTTP_409_CONFLICT,
                code=refused.code,
                message=f"{refused.route}: {refused.message} Nothing was created.",
                details={"lane": refused.lane_id, "suggestions": list(refused.suggestion_ids)},
            )
        return answer(result)


class ApproveLaneView(APIView):
    permission_classes = [SuggestionDeciders]

    @extend_schema(
        operation_id="suggestions_approve_lane",
        summary="Approve every open suggestion of one lane: one transfer for the lane",
        description="A refusal of the transfer is in `refused` (nothing of the lane is "
        "written); nothing open on the lane is an empty answer.",
        request=None,
        responses={
            200: approved("What was made, refused and skipped."),
            **DECISION_ERRORS,
            404: error_response("not_found: no lane has this id"),
        },
    )
    @idempotent
    def post(self, request, lane_id: int):
        lane = get_object_or_404(Lane.objects.select_related("source", "destination"), pk=lane_id)
        if not deciding_for(request.user).covers_source(lane.source_id):
            raise PermissionDenied(
                f"You may not approve the lane {lane.source.code} → {lane.destination.code}: that "
                f"is for the source warehouse {lane.source.code}'s people or ops staff."
            )
        result = approve_lane(lane_id=lane.pk, actor=actor_for(request))
        return answer(result)


class ApproveAllView(APIView):
    permission_classes = [SuggestionDeciders]

    @extend_schema(
        operation_id="suggestions_approve_all",
        summary="Approve every open suggestion the user may: one transfer per lane",
        description="Ops staff approve every lane; a warehouse manager those leaving their "
        "warehouses. Each lane is its own all-or-nothing step: refused lanes are in "
        "`refused`, the others go on.",
        request=None,
        responses={200: approved("What was made, refused and skipped."), **DECISION_ERRORS},
    )
    @idempotent
    def post(self, request):
        deciding = deciding_for(request.user)
        actor = actor_for(request)
        if deciding.source_ids is None:
            result = approve_all(actor=actor)
        else:
            ids = Suggestion.objects.filter(
                state=SuggestionState.OPEN, source_id__in=deciding.source_ids
            ).values_list("pk", flat=True)
            result = approve_suggestions(suggestion_ids=list(ids), actor=actor)
        return answer(result)


class DismissSuggestionView(APIView):
    permission_classes = [SuggestionDeciders]

    @extend_schema(
        operation_id="suggestions_dismiss",
        summary="Dismiss a suggestion: not suggested again until the situation changes",
        request=DismissInput,
        responses={
            200: SuggestionOutput,
            **DECISION_ERRORS,
            404: error_response("not_found: no suggestion has this id"),
            409: error_response("suggestion_not_open: approved or superseded already"),
        },
    )
    @idempotent
    def post(self, request, pk: int):
        suggestion = open_suggestion(pk)
        if not may_decide(request.user, suggestion):
            raise PermissionDenied(refusal(suggestion, "dismiss"))
        data = validated(DismissInput, request)
        dismiss_suggestion(
            suggestion_id=suggestion.pk, actor=actor_for(request), note=data.get("note", "")
        )
        publish_suggestions_changed(variant_ids=[suggestion.variant_id])
        return Response(SuggestionOutput(open_suggestion(pk)).data)
