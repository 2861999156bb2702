from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from inventory_hub.api.idempotency import idempotent
from inventory_hub.api.schema import WRITE_ERRORS, error_response, validated
from stock.api.actors import actor_for
from stock.api.serializers.adjustments import AdjustmentInput, AdjustmentOutput
from stock.models import MovementSource
from stock.selectors import get_variant_by_sku, get_warehouse_by_code
from stock.services import adjust_stock, count_stock
from warehouses.api.permissions import StockWriters
from warehouses.api.scopes import require_stock_scope


class StockAdjustmentView(APIView):
    permission_classes = [StockWriters]

    @extend_schema(
        operation_id="stock_adjust",
        summary="Adjust stock by a delta, or set a counted on-hand figure",
        request=AdjustmentInput,
        responses={
            201: AdjustmentOutput,
            200: OpenApiResponse(AdjustmentOutput, description="Unchanged or replayed."),
            **WRITE_ERRORS,
            409: error_response(
                "insufficient_stock, conflict_expected_on_hand (details has current_on_hand), "
                "inactive_warehouse, stock_not_managed"
            ),
        },
    )
    @idempotent
    def post(self, request):
        data = validated(AdjustmentInput, request)
        variant = get_variant_by_sku(data["sku"])
        warehouse = get_warehouse_by_code(data["warehouse"])
        require_stock_scope(request.user, warehouse)
        common = {
            "variant": variant,
            "warehouse": warehouse,
            "reason": data["reason"],
            "note": data["note"],
            "actor": actor_for(request),
            "expected_on_hand": data.get("expected_on_hand"),
            "source": MovementSource.API,
            "document": data.get("reference", ""),
            # References are unique per client, not across all of them.
            "reference": f"user:{request.user.pk}:{data['reference']}"
            if "reference" in data
            else None,
        }
        if "delta" in data:
            outcome = adjust_stock(delta=data["delta"], **common)
        else:
            outcome = count_stock(counted=data["counted"], **common)
        level = outcome.level
        level.variant, level.warehouse = variant, warehouse
        if outcome.movement is not None:
            outcome.movement.variant, outcome.movement.warehouse = variant, warehouse
        body = AdjustmentOutput(
            {"outcome": outcome.outcome, "movement": outcome.movement, "level": level}
        ).data
        return Response(
            body, status=status.HTTP_201_CREATED if outcome.movement else status.HTTP_200_OK
        )
