"""Bulk stock: up to 10,000 counts or deltas, checked as a whole, applied in one go.

Checked in stages, each listing every row it refuses, and nothing is written after any
refusal: the rows' shape (400), their SKUs and warehouses (400), the caller's warehouse
scope (403), then the stock rules in the ledger engine (409). Ops staff may write anywhere;
a warehouse manager or an integration only if every row's warehouse is theirs.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from inventory_hub.api.idempotency import idempotent
from inventory_hub.api.schema import WRITE_ERRORS, error_response
from inventory_hub.gc_pause import collector_paused
from stock.api.actors import actor_for
from stock.api.bulk import (
    out_of_scope,
    read_bulk_request,
    read_dry_run,
    report,
    rows_refused,
)
from stock.api.errors import DOMAIN_STATUS
from stock.api.serializers.bulk import BulkStockInput, BulkStockOutput
from stock.services.bulk import BulkRejected, apply_bulk_stock, plan_bulk_stock
from warehouses.access import writable_warehouse_ids
from warehouses.api.permissions import StockWriters


class BulkStockView(APIView):
    permission_classes = [StockWriters]

    @extend_schema(
        operation_id="stock_bulk",
        summary="Set or adjust on hand for up to 10,000 SKUs and warehouses at once",
        description=(
            "Every row is an absolute `counted` figure or a `delta`. The batch is checked as a "
            "whole and applied in one transaction: every row or none. The answer lists each "
            "row's outcome and balance in request order. A count equal to the balance writes "
            "no ledger row (`unchanged`), so sending the same counts again is harmless; a "
            "delta is only safe to repeat with a reference (its own or the batch's). "
            "`?dry_run=1` checks and reports exactly what would happen now, writing nothing. "
            "Refusals list every refused row in `details.errors` (index, sku, warehouse, "
            "field, code, message, details)."
        ),
        parameters=[
            OpenApiParameter(
                "dry_run",
                OpenApiTypes.BOOL,
                description="1 or true: check and report without writing anything.",
            )
        ],
        request=BulkStockInput,
        responses={
            201: OpenApiResponse(BulkStockOutput, description="Applied; some rows wrote."),
            200: OpenApiResponse(
                BulkStockOutput, description="A dry run, or every row unchanged or replayed."
            ),
            **WRITE_ERRORS,
            400: error_response(
                "validation_error: the body, or rows (details.errors per row: shape, "
                "unknown_sku, unknown_warehouse, duplicate_row); malformed_json"
            ),
            403: error_response(
                "permission_denied: the role, or rows whose warehouse is out of the caller's "
                "scope (details.errors lists them)"
            ),
            409: error_response(
                "batch_rejected: details.errors per row (insufficient_stock, "
                "conflict_expected_on_hand, inactive_warehouse, stock_not_managed, …)"
            ),
        },
    )
    @idempotent
    @collector_paused()
    def post(self, request):
        is_dry_run = read_dry_run(request.query_params)
        batch = read_bulk_request(request.data, user_id=request.user.pk)
        plan = plan_bulk_stock(batch.rows)
        if plan.problems:
            raise rows_refused(
                plan.problems,
                status_code=status.HTTP_400_BAD_REQUEST,
                code="validation_error",
                total=len(batch.rows),
            )
        allowed = writable_warehouse_ids(request.user)
        if allowed is not None:
            refused = out_of_scope(batch, (change.warehouse.pk for change in plan.changes), allowed)
            if refused:
                raise rows_refused(
                    refused,
                    status_code=status.HTTP_403_FORBIDDEN,
                    code="permission_denied",
                    total=len(batch.rows),
                )
        try:
            result = apply_bulk_stock(plan, actor=actor_for(request), is_dry_run=is_dry_run)
        except BulkRejected as rejected:
            conflict = any(
                DOMAIN_STATUS.get(problem.code) == status.HTTP_409_CONFLICT
                for problem in rejected.problems
            )
            raise rows_refused(
                rejected.problems,
                status_code=status.HTTP_409_CONFLICT if conflict else status.HTTP_400_BAD_REQUEST,
                code=rejected.code,
                total=len(batch.rows),
            ) from None
        return Response(
            report(batch, result),
            status=status.HTTP_201_CREATED if result.written else status.HTTP_200_OK,
        )
