"""Transfers over HTTP: list (filtered), read and create a draft.

Every role reads every transfer. Creating one, and editing a draft, is for the roles that
change stock, at either end (transfers.access); the transitions are in `transitions.py`.
"""

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from inventory_hub.api.idempotency import idempotent
from inventory_hub.api.schema import (
    LIST_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    error_response,
    validated,
)
from stock.api.actors import actor_for
from transfers.access import (
    Action,
    allowed_actions,
    deciding_end,
    may_act,
    may_act_between,
    may_manage_lanes,
)
from transfers.api.filters import TransferFilter
from transfers.api.permissions import TransferActors
from transfers.api.serializers import (
    TransferEditInput,
    TransferInput,
    TransferOutput,
    TransferSummaryOutput,
)
from transfers.models import Transfer, TransferLine, TransferReceipt, TransferReceiptLine
from transfers.selectors import transfers_list
from transfers.services import TransferLineInput, create_transfer_once, edit_draft

SOURCE_SYSTEM = "hub"


def transfers_with_lines() -> QuerySet[Transfer]:
    lines = TransferLine.objects.select_related("variant").order_by("pk")
    return transfers_list().prefetch_related(Prefetch("lines", queryset=lines))


def transfers_in_full() -> QuerySet[Transfer]:
    """Transfers with everything TransferOutput reads, in a fixed number of queries."""
    receipt_lines = TransferReceiptLine.objects.select_related("line__variant").order_by("pk")
    receipts = TransferReceipt.objects.prefetch_related(
        Prefetch("lines", queryset=receipt_lines)
    ).order_by("pk")
    return transfers_with_lines().prefetch_related(
        Prefetch("receipts", queryset=receipts), "events"
    )


def answer(request, transfer_id: int, *, status_code: int = status.HTTP_200_OK) -> Response:
    transfer = transfers_in_full().get(pk=transfer_id)
    context = {"allowed_actions": allowed_actions(request.user, transfer)}
    return Response(TransferOutput(transfer, context=context).data, status=status_code)


def refusal(action: Action, transfer: Transfer, *, verb: str = "") -> str:
    """Why the user may not take `action` on the transfer, naming the end that may."""
    end = deciding_end(action, transfer)
    verb = verb or action.value.replace("_", " ")
    if end == "either":
        who = f"the people of {transfer.source.code} or {transfer.destination.code}"
    else:
        warehouse = transfer.source if end == "source" else transfer.destination
        who = f"the {end} warehouse {warehouse.code}'s people"
    return f"You may not {verb} transfer {transfer.reference}: that is for {who} or ops staff."


class TransferListView(generics.ListAPIView):
    permission_classes = [TransferActors]
    serializer_class = TransferSummaryOutput
    filter_backends = [DjangoFilterBackend]
    filterset_class = TransferFilter

    def get_queryset(self) -> QuerySet[Transfer]:
        return transfers_with_lines()

    @extend_schema(
        operation_id="transfers_list",
        summary="List transfers with their lines, newest first",
        responses={200: TransferSummaryOutput(many=True), **LIST_ERRORS},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="transfers_create",
        summary="Create a draft transfer: nothing is held until it is approved",
        request=TransferInput,
        responses={
            201: TransferOutput,
            200: OpenApiResponse(
                TransferOutput,
                description="A transfer with this reference exists: it is returned unchanged.",
            ),
            **WRITE_ERRORS,
            400: error_response(
                "validation_error (details name each field; per line by index: an unknown or "
                "repeated SKU, a quantity out of range; an unknown warehouse code, the same "
                "warehouse twice), malformed_json"
            ),
            403: error_response(
                "permission_denied: the role, or neither warehouse is in the user's scope"
            ),
        },
    )
    @idempotent
    def post(self, request):
        data = validated(TransferInput, request)
        source, destination = data["source"], data["destination"]
        if not may_act_between(
            request.user, Action.CREATE, source_id=source.pk, destination_id=destination.pk
        ):
            raise PermissionDenied(
                f"You may not create a transfer from {source.code} to {destination.code}: "
                "neither warehouse is yours."
            )
        if data["allow_below_minimum"] and not may_manage_lanes(request.user):
            raise PermissionDenied("Only ops staff may create a transfer below its lane's minimum.")
        created = create_transfer_once(
            source=source,
            destination=destination,
            lines=[
                TransferLineInput(variant=variant, quantity=quantity)
                for variant, quantity in data["lines"]
            ],
            reference=data.get("reference"),
            actor=actor_for(request),
            source_system=SOURCE_SYSTEM,
            reason=data.get("reason", ""),
            notes=data.get("notes", ""),
            allow_below_minimum=data["allow_below_minimum"],
        )
        return answer(
            request,
            created.transfer.pk,
            status_code=status.HTTP_201_CREATED if created.created else status.HTTP_200_OK,
        )


class TransferDetailView(generics.RetrieveAPIView):
    permission_classes = [TransferActors]
    serializer_class = TransferOutput

    def get_queryset(self) -> QuerySet[Transfer]:
        return transfers_in_full()

    @extend_schema(
        operation_id="transfers_retrieve",
        summary="One transfer: lines, receipts, timeline, and what the user may do next",
        responses={200: TransferOutput, **READ_ERRORS, 404: error_response("not_found")},
    )
    def get(self, request, *args, **kwargs):
        transfer = self.get_object()
        context = {"allowed_actions": allowed_actions(request.user, transfer)}
        return Response(TransferOutput(transfer, context=context).data)

    @extend_schema(
        operation_id="transfers_update",
        summary="Edit a draft: its reason, notes, or all of its lines",
        request=TransferEditInput,
        responses={
            200: TransferOutput,
            **{code: reply for code, reply in WRITE_ERRORS.items() if code != 422},
            400: error_response(
                "validation_error (details name each field; per line by index: an unknown or "
                "repeated SKU, a quantity out of range), malformed_json"
            ),
            403: error_response(
                "permission_denied: the role, or neither warehouse is in the user's scope"
            ),
            404: error_response("not_found"),
            409: error_response("invalid_transfer_state: approved already (its units are held)"),
        },
    )
    def patch(self, request, pk: int):
        transfer = get_object_or_404(
            Transfer.objects.select_related("source", "destination"), pk=pk
        )
        if not may_act(request.user, Action.CREATE, transfer):
            raise PermissionDenied(refusal(Action.CREATE, transfer, verb="edit"))
        data = validated(TransferEditInput, request)
        lines = data.get("lines")
        edit_draft(
            transfer=transfer,
            actor=actor_for(request),
            lines=None
            if lines is None
            else [
                TransferLineInput(variant=variant, quantity=quantity) for variant, quantity in lines
            ],
            reason=data.get("reason"),
            notes=data.get("notes"),
        )
        return answer(request, transfer.pk)
