"""One endpoint per transition of a transfer: approve, pick, ship, receive, close short,
cancel. Each loads the transfer (404), asks transfers.access whether the user may take the
action at that end (403 naming the end), checks the body (400) and calls one service.

A repeat is one transition: the services return a transfer already in the state they lead
to unchanged, a receipt reference is one receipt, and an Idempotency-Key replays the
first answer.
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from inventory_hub.api.idempotency import idempotent
from inventory_hub.api.schema import WRITE_ERRORS, error_response, validated
from stock.actors import Actor
from stock.api.actors import actor_for
from transfers.access import Action, may_act
from transfers.api.permissions import TransferActors
from transfers.api.serializers import (
    CancelInput,
    CloseShortInput,
    NoInput,
    ReceiptInput,
    TransferOutput,
)
from transfers.api.views.transfers import answer, refusal
from transfers.errors import InvalidTransfer
from transfers.models import Transfer
from transfers.services import (
    ReceiptLineInput,
    approve_transfer,
    cancel_transfer,
    close_transfer_short,
    pick_transfer,
    receive_return,
    receive_transfer,
    ship_transfer,
)

ACTION_ERRORS = {
    **WRITE_ERRORS,
    403: error_response(
        "permission_denied: the role, or the user is not of the warehouse end that takes "
        "this action (the message names it)"
    ),
    404: error_response("not_found: no transfer has this id"),
    409: error_response("invalid_transfer_state: the transfer's state does not allow it"),
}


def done(description: str) -> OpenApiResponse:
    return OpenApiResponse(TransferOutput, description=description)


class _TransitionView(APIView):
    permission_classes = [TransferActors]
    action: Action
    input_class: type = NoInput

    def transition(self, request, pk: int) -> Response:
        transfer = get_object_or_404(
            Transfer.objects.select_related("source", "destination"), pk=pk
        )
        if not may_act(request.user, self.action, transfer):
            raise PermissionDenied(refusal(self.action, transfer))
        data = validated(self.input_class, request)
        self.perform(transfer, data, actor_for(request))
        return answer(request, transfer.pk)

    def perform(self, transfer: Transfer, data: dict, actor: Actor) -> None:
        raise NotImplementedError


class ApproveTransferView(_TransitionView):
    action = Action.APPROVE

    @extend_schema(
        operation_id="transfers_approve",
        summary="Approve: hold every line's units at the source, all or nothing",
        request=None,
        responses={
            200: done("Approved now, or already approved."),
            **ACTION_ERRORS,
            409: error_response(
                "insufficient_stock (a line would take available below zero; nothing is "
                "held), invalid_transfer_state"
            ),
        },
    )
    @idempotent
    def post(self, request, pk: int):
        return self.transition(request, pk)

    def perform(self, transfer: Transfer, data: dict, actor: Actor) -> None:
        approve_transfer(transfer=transfer, actor=actor)


class PickTransferView(_TransitionView):
    action = Action.PICK

    @extend_schema(
        operation_id="transfers_pick",
        summary="Mark an approved transfer picked (no stock moves)",
        request=None,
        responses={200: done("Picked now, or already picked."), **ACTION_ERRORS},
    )
    @idempotent
    def post(self, request, pk: int):
        return self.transition(request, pk)

    def perform(self, transfer: Transfer, data: dict, actor: Actor) -> None:
        pick_transfer(transfer=transfer, actor=actor)


class ShipTransferView(_TransitionView):
    action = Action.SHIP

    @extend_schema(
        operation_id="transfers_ship",
        summary="Ship: the held units leave the source and are inbound at the destination",
        request=None,
        responses={200: done("Shipped now, or already shipped."), **ACTION_ERRORS},
    )
    @idempotent
    def post(self, request, pk: int):
        return self.transition(request, pk)

    def perform(self, transfer: Transfer, data: dict, actor: Actor) -> None:
        ship_transfer(transfer=transfer, actor=actor)


class ReceiveTransferView(_TransitionView):
    action = Action.RECEIVE
    input_class = ReceiptInput

    @extend_schema(
        operation_id="transfers_receive",
        summary="Receive at the destination: per line, units accepted and rejected",
        description="Accepted units go on hand; rejected ones to unsellable or are written "
        "off. More than is in transit is refused unless over_receipt is true. A transfer "
        "may be received several times; the same receipt_reference is the same receipt.",
        request=ReceiptInput,
        responses={
            200: done("Received (partially or fully), or this receipt was already recorded."),
            **ACTION_ERRORS,
            400: error_response(
                "validation_error (details name each field; per line by index: an unknown or "
                "repeated SKU, no units, a rejection without a reason), malformed_json, "
                "invalid_transfer (a SKU that is not on the transfer)"
            ),
            409: error_response(
                "over_receipt (details: sku, in_transit, received), invalid_transfer_state"
            ),
        },
    )
    @idempotent
    def post(self, request, pk: int):
        return self.transition(request, pk)

    def perform(self, transfer: Transfer, data: dict, actor: Actor) -> None:
        receive_transfer(
            transfer=transfer,
            receipt_reference=data["receipt_reference"],
            over_receipt=data["over_receipt"],
            lines=receipt_lines(data),
            actor=actor,
        )


def receipt_lines(data: dict) -> list[ReceiptLineInput]:
    return [
        ReceiptLineInput(
            variant=line["variant"],
            accepted=line["accepted"],
            rejected=line["rejected"],
            rejection_reason=line.get("rejection_reason", ""),
            rejected_disposition=line["rejected_disposition"],
        )
        for line in data["lines"]
    ]


class ReceiveReturnView(_TransitionView):
    action = Action.RECEIVE_RETURN
    input_class = ReceiptInput

    @extend_schema(
        operation_id="transfers_receive_return",
        summary="Receive at the source the units a cancelled transfer sent back",
        description="For a transfer cancelled on the road with disposition back_to_source: "
        "per line, units accepted (on hand at the source again) and rejected (to unsellable "
        "or written off). More than is on its way back is refused, and a return is never "
        "an over-receipt. The same receipt_reference is the same receipt.",
        request=ReceiptInput,
        responses={
            200: done("Received back at the source, or this receipt was already recorded."),
            **ACTION_ERRORS,
            400: error_response(
                "validation_error (details name each field; per line by index), "
                "malformed_json, invalid_transfer (a SKU not on the transfer, or "
                "over_receipt set)"
            ),
            409: error_response(
                "over_receipt (more than is on its way back), invalid_transfer_state"
            ),
        },
    )
    @idempotent
    def post(self, request, pk: int):
        return self.transition(request, pk)

    def perform(self, transfer: Transfer, data: dict, actor: Actor) -> None:
        if data["over_receipt"]:
            raise InvalidTransfer("A return is never an over-receipt.", {"field": "over_receipt"})
        receive_return(
            transfer=transfer,
            receipt_reference=data["receipt_reference"],
            lines=receipt_lines(data),
            actor=actor,
        )


class CloseShortTransferView(_TransitionView):
    action = Action.CLOSE_SHORT
    input_class = CloseShortInput

    @extend_schema(
        operation_id="transfers_close_short",
        summary="Close short: what is still in transit is written off at the destination",
        request=CloseShortInput,
        responses={200: done("Closed short now, or already closed short."), **ACTION_ERRORS},
    )
    @idempotent
    def post(self, request, pk: int):
        return self.transition(request, pk)

    def perform(self, transfer: Transfer, data: dict, actor: Actor) -> None:
        close_transfer_short(
            transfer=transfer, actor=actor, reason=data["reason"], note=data.get("note", "")
        )


class CancelTransferView(_TransitionView):
    action = Action.CANCEL
    input_class = CancelInput

    @extend_schema(
        operation_id="transfers_cancel",
        summary="Cancel: before shipping the hold is released; after, say where the units are",
        request=CancelInput,
        responses={
            200: done("Cancelled now, or already cancelled."),
            **ACTION_ERRORS,
            400: error_response(
                "validation_error, malformed_json, invalid_transfer (shipped, and no "
                "disposition: back_to_source or lost)"
            ),
        },
    )
    @idempotent
    def post(self, request, pk: int):
        return self.transition(request, pk)

    def perform(self, transfer: Transfer, data: dict, actor: Actor) -> None:
        cancel_transfer(
            transfer=transfer,
            actor=actor,
            disposition=data.get("disposition"),
            note=data.get("note", ""),
        )
