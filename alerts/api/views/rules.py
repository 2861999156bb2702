"""Rules over HTTP: list, read, create, change and preview. A rule is never deleted (its
alerts refer to it): PATCH {"is_active": false} retires it and its alerts resolve. Reads
for every role, writes for ops staff. The scope is given by codes: a warehouse's or a
channel's code, a SKU, a product's or a connector's id."""

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts.api.filters import RuleFilter
from alerts.api.permissions import AlertConfigurers
from alerts.api.serializers.alerts import PreviewOutput
from alerts.api.serializers.setup import RuleChangeInput, RuleInput, RuleOutput
from alerts.models import Rule
from alerts.preview import preview_rule
from alerts.services import create_rule, update_rule
from inventory_hub.api.idempotency import idempotent
from inventory_hub.api.schema import (
    LIST_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    error_response,
    validated,
)
from stock.api.actors import actor_for

RULE_ERRORS = {
    **WRITE_ERRORS,
    400: error_response(
        "validation_error (details name each field; an unknown warehouse or channel code, "
        "SKU, product or connector), malformed_json, invalid_rule (details.field names the "
        "field: a scope the condition does not take, a label name, params, a name in use)"
    ),
    403: error_response("permission_denied: only ops staff change rules"),
}
# A PATCH is naturally safe to repeat: no Idempotency-Key, no 422.
CHANGE_ERRORS = {
    **{code: reply for code, reply in RULE_ERRORS.items() if code != 422},
    404: error_response("not_found: no rule has this id"),
}


def rules() -> QuerySet[Rule]:
    return Rule.objects.select_related("warehouse", "channel", "variant").order_by("name", "pk")


class RuleListView(generics.ListAPIView):
    permission_classes = [AlertConfigurers]
    serializer_class = RuleOutput
    filter_backends = [DjangoFilterBackend]
    filterset_class = RuleFilter

    def get_queryset(self) -> QuerySet[Rule]:
        return rules()

    @extend_schema(
        operation_id="alert_rules_list",
        summary="List alert rules, by name",
        responses={200: RuleOutput(many=True), **LIST_ERRORS},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="alert_rules_create",
        summary="Create an alert rule: a condition over a scope, a threshold, routing labels",
        request=RuleInput,
        responses={201: RuleOutput, **RULE_ERRORS},
    )
    @idempotent
    def post(self, request):
        data = validated(RuleInput, request)
        rule = create_rule(actor=actor_for(request), **data)
        return Response(RuleOutput(rules().get(pk=rule.pk)).data, status=status.HTTP_201_CREATED)


class RuleDetailView(APIView):
    permission_classes = [AlertConfigurers]

    @extend_schema(
        operation_id="alert_rules_retrieve",
        summary="One alert rule",
        responses={200: RuleOutput, **READ_ERRORS, 404: error_response("not_found")},
    )
    def get(self, request, pk: int):
        return Response(RuleOutput(get_object_or_404(rules(), pk=pk)).data)

    @extend_schema(
        operation_id="alert_rules_update",
        summary="Change an alert rule (is_active false retires it); its condition is fixed",
        request=RuleChangeInput,
        responses={200: RuleOutput, **CHANGE_ERRORS},
    )
    def patch(self, request, pk: int):
        rule = get_object_or_404(rules(), pk=pk)
        update_rule(rule=rule, **validated(RuleChangeInput, request))
        return Response(RuleOutput(rules().get(pk=pk)).data)


class RulePreviewView(APIView):
    permission_classes = [AlertConfigurers]

    @extend_schema(
        operation_id="alert_rules_preview",
        summary="Which subjects the rule's condition holds for now, and who would be told",
        description="Runs the condition over the rule's scope without writing anything; "
        "lists the first 100 matching subjects with the receivers their labels route to, "
        "and the escalation ladder of the rule's severity. A very large scope is sampled "
        "(is_sample).",
        responses={200: PreviewOutput, **READ_ERRORS, 404: error_response("not_found")},
    )
    def get(self, request, pk: int):
        rule = get_object_or_404(Rule, pk=pk)
        return Response(PreviewOutput(preview_rule(rule)).data)
