"""Receivers, routes and escalation steps over HTTP: ops staff set them up, every role reads
them. None is deleted (notifications refer to them): is_active false retires a receiver or
a route, and a step is replaced by saving another at its place. A receiver's secret is
write-only: answers say `has_secret`."""

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts.api.filters import ReceiverFilter
from alerts.api.permissions import AlertConfigurers
from alerts.api.serializers.alerts import AlertNotificationOutput, NoInput
from alerts.api.serializers.setup import (
    EscalationStepChangeInput,
    EscalationStepInput,
    EscalationStepOutput,
    ReceiverChangeInput,
    ReceiverInput,
    ReceiverOutput,
    RouteChangeInput,
    RouteInput,
    RouteOutput,
)
from alerts.models import EscalationStep, Notification, Receiver, Route
from alerts.services import save_escalation_step, save_receiver, save_route, send_test_message
from inventory_hub.api.idempotency import idempotent
from inventory_hub.api.schema import (
    LIST_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    error_response,
    validated,
)
from stock.api.actors import actor_for


def setup_errors(what: str, service_code: str, checks: str) -> dict:
    return {
        **WRITE_ERRORS,
        400: error_response(
            f"validation_error (details name each field), malformed_json, {service_code} "
            f"(details.field names the field: {checks})"
        ),
        403: error_response(f"permission_denied: only ops staff change {what}"),
    }


def change_errors(errors: dict, what: str) -> dict:
    """A PATCH is naturally safe to repeat: no Idempotency-Key, no 422."""
    return {
        **{code: reply for code, reply in errors.items() if code != 422},
        404: error_response(f"not_found: no {what} has this id"),
    }


RECEIVER_ERRORS = setup_errors(
    "receivers",
    "invalid_receiver",
    "config per kind, addresses, users, groups, E.164 numbers, URLs, the secret, a name in use",
)
ROUTE_ERRORS = setup_errors(
    "routes", "invalid_route", "matchers, group_by label names, repeat steps, a name in use"
)
STEP_ERRORS = setup_errors(
    "escalation steps",
    "invalid_escalation_step",
    "a later step waits at least as long as an earlier one",
)
FOUND = {200: None, **READ_ERRORS, 404: error_response("not_found")}


# --- Receivers -------------------------------------------------------------------------------


class ReceiverListView(generics.ListAPIView):
    permission_classes = [AlertConfigurers]
    serializer_class = ReceiverOutput
    filter_backends = [DjangoFilterBackend]
    filterset_class = ReceiverFilter

    def get_queryset(self) -> QuerySet[Receiver]:
        return Receiver.objects.order_by("name", "pk")

    @extend_schema(
        operation_id="alert_receivers_list",
        summary="List receivers (where notifications go), by name",
        responses={200: ReceiverOutput(many=True), **LIST_ERRORS},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="alert_receivers_create",
        summary="Create a receiver: e-mail, Slack, signed webhook, SMS, voice or dashboard",
        request=ReceiverInput,
        responses={201: ReceiverOutput, **RECEIVER_ERRORS},
    )
    @idempotent
    def post(self, request):
        receiver = save_receiver(**validated(ReceiverInput, request))
        return Response(ReceiverOutput(receiver).data, status=status.HTTP_201_CREATED)


class ReceiverDetailView(APIView):
    permission_classes = [AlertConfigurers]

    @extend_schema(
        operation_id="alert_receivers_retrieve",
        summary="One receiver (its secret is never shown)",
        responses={**FOUND, 200: ReceiverOutput},
    )
    def get(self, request, pk: int):
        return Response(ReceiverOutput(get_object_or_404(Receiver, pk=pk)).data)

    @extend_schema(
        operation_id="alert_receivers_update",
        summary="Change a receiver (is_active false retires it); its kind is fixed",
        description="A secret left out keeps the stored one.",
        request=ReceiverChangeInput,
        responses={200: ReceiverOutput, **change_errors(RECEIVER_ERRORS, "receiver")},
    )
    def patch(self, request, pk: int):
        receiver = get_object_or_404(Receiver, pk=pk)
        data = validated(ReceiverChangeInput, request)
        saved = save_receiver(
            receiver=receiver,
            kind=receiver.kind,
            name=data.get("name", receiver.name),
            config=data.get("config", receiver.config),
            secret=data.get("secret"),
            send_resolved=data.get("send_resolved", receiver.send_resolved),
            is_active=data.get("is_active", receiver.is_active),
        )
        return Response(ReceiverOutput(saved).data)


class ReceiverTestView(APIView):
    permission_classes = [AlertConfigurers]

    @extend_schema(
        operation_id="alert_receivers_test",
        summary="Send a test message to a receiver, through the same delivery as any other",
        description="Answers the TEST notification queued; its delivery (and every attempt) "
        "is in the delivery log, /alert-notifications/{id}/.",
        request=None,
        responses={
            202: AlertNotificationOutput,
            **WRITE_ERRORS,
            403: error_response("permission_denied: only ops staff send test messages"),
            404: error_response("not_found: no receiver has this id"),
        },
    )
    @idempotent
    def post(self, request, pk: int):
        receiver = get_object_or_404(Receiver, pk=pk)
        validated(NoInput, request)
        notification = send_test_message(receiver=receiver, actor=actor_for(request))
        shown = Notification.objects.select_related("receiver").get(pk=notification.pk)
        return Response(AlertNotificationOutput(shown).data, status=status.HTTP_202_ACCEPTED)


# --- Routes ----------------------------------------------------------------------------------


def routes() -> QuerySet[Route]:
    return Route.objects.select_related("receiver").order_by("position", "pk")


class RouteListView(generics.ListAPIView):
    permission_classes = [AlertConfigurers]
    serializer_class = RouteOutput

    def get_queryset(self) -> QuerySet[Route]:
        return routes()

    @extend_schema(
        operation_id="alert_routes_list",
        summary="List routes in the order they are tried (by position)",
        responses={200: RouteOutput(many=True), **LIST_ERRORS},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="alert_routes_create",
        summary="Create a route: alerts whose labels match go to its receiver, grouped",
        request=RouteInput,
        responses={201: RouteOutput, **ROUTE_ERRORS},
    )
    @idempotent
    def post(self, request):
        route = save_route(**validated(RouteInput, request))
        return Response(RouteOutput(route).data, status=status.HTTP_201_CREATED)


class RouteDetailView(APIView):
    permission_classes = [AlertConfigurers]

    @extend_schema(
        operation_id="alert_routes_retrieve",
        summary="One route",
        responses={**FOUND, 200: RouteOutput},
    )
    def get(self, request, pk: int):
        return Response(RouteOutput(get_object_or_404(routes(), pk=pk)).data)

    @extend_schema(
        operation_id="alert_routes_update",
        summary="Change a route (is_active false retires it)",
        request=RouteChangeInput,
        responses={200: RouteOutput, **change_errors(ROUTE_ERRORS, "route")},
    )
    def patch(self, request, pk: int):
        route = get_object_or_404(routes(), pk=pk)
        data = validated(RouteChangeInput, request)
        name = data.pop("name", route.name)
        receiver = data.pop("receiver", route.receiver)
        saved = save_route(name=name, receiver=receiver, route=route, **data)
        return Response(RouteOutput(saved).data)


# --- Escalation steps ------------------------------------------------------------------------


def steps() -> QuerySet[EscalationStep]:
    return EscalationStep.objects.select_related("receiver").order_by("severity", "position")


class EscalationStepListView(generics.ListAPIView):
    permission_classes = [AlertConfigurers]
    serializer_class = EscalationStepOutput

    def get_queryset(self) -> QuerySet[EscalationStep]:
        return steps()

    @extend_schema(
        operation_id="alert_escalation_steps_list",
        summary="List the escalation ladders, by severity and position",
        responses={200: EscalationStepOutput(many=True), **LIST_ERRORS},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="alert_escalation_steps_create",
        summary="Set a step of a severity's ladder (one at that position is replaced)",
        request=EscalationStepInput,
        responses={201: EscalationStepOutput, **STEP_ERRORS},
    )
    @idempotent
    def post(self, request):
        step = save_escalation_step(**validated(EscalationStepInput, request))
        return Response(EscalationStepOutput(step).data, status=status.HTTP_201_CREATED)


class EscalationStepDetailView(APIView):
    permission_classes = [AlertConfigurers]

    @extend_schema(
        operation_id="alert_escalation_steps_retrieve",
        summary="One escalation step",
        responses={**FOUND, 200: EscalationStepOutput},
    )
    def get(self, request, pk: int):
        return Response(EscalationStepOutput(get_object_or_404(steps(), pk=pk)).data)

    @extend_schema(
        operation_id="alert_escalation_steps_update",
        summary="Change a step's wait or receiver (its severity and position are its place)",
        request=EscalationStepChangeInput,
        responses={200: EscalationStepOutput, **change_errors(STEP_ERRORS, "escalation step")},
    )
    def patch(self, request, pk: int):
        step = get_object_or_404(steps(), pk=pk)
        data = validated(EscalationStepChangeInput, request)
        saved = save_escalation_step(
            severity=step.severity,
            position=step.position,
            after_minutes=data.get("after_minutes", step.after_minutes),
            receiver=data.get("receiver", step.receiver),
        )
        return Response(EscalationStepOutput(saved).data)
