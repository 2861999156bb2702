"""The webhook a warehouse's own system reports to (picked, shipped, received).

No session and no CSRF: the Standard Webhooks signature, with that warehouse's secret, is
the authentication, checked before the body is read (transfers/signing.py).
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from inventory_hub.api.errors import error_body
from stock.errors import StockError
from transfers.models import WarehouseSystem
from transfers.services import ReportRefused, apply_system_report
from transfers.signing import BadSignature, verify
from transfers.wms_input import MalformedReport, parse_report

# Refusals of the transition itself; any other domain error is a 409.
STATUS_OF_CODE = {
    "invalid_transfer_state": 409,
    "over_receipt": 422,
    "invalid_transfer": 422,
    "unknown_sku": 422,
    "invalid_quantity": 422,
    "insufficient_stock": 409,
}
WEBHOOK_ID_MAX_LENGTH = 255


def _error(status: int, code: str, message: str, details: dict | None = None) -> JsonResponse:
    return JsonResponse(error_body(code, message, details or {}), status=status)


@csrf_exempt
@require_POST
def wms_events(request: HttpRequest, warehouse_id: int) -> JsonResponse:
    """POST /transfers/wms/<warehouse id>/events: 200 applied (or a replay of the same
    webhook-id, answered the same), 401 bad signature or stale timestamp, 400 malformed,
    403 not this warehouse's transfer, 404 no such system or transfer, 409 wrong state,
    422 refused by the transition (over-receipt, unknown SKU, …)."""
    system = (
        WarehouseSystem.objects.select_related("warehouse")
        .filter(warehouse_id=warehouse_id, is_active=True)
        .first()
    )
    if system is None:
        return _error(404, "not_found", f"Warehouse {warehouse_id} has no active system.")
    try:
        webhook_id = verify(system.secret, headers=request.headers, body=request.body)
    except BadSignature as error:
        return _error(401, error.code, str(error))
    if len(webhook_id) > WEBHOOK_ID_MAX_LENGTH:
        return _error(
            400,
            "validation_error",
            f"webhook-id is at most {WEBHOOK_ID_MAX_LENGTH} characters.",
            {"field": "webhook-id"},
        )
    try:
        report = parse_report(request.body)
    except MalformedReport as error:
        return _error(400, error.code, error.message, {"field": error.field})
    try:
        outcome = apply_system_report(system=system, webhook_id=webhook_id, report=report)
    except ReportRefused as error:
        return _error(error.status, error.code, error.message)
    except StockError as error:
        return _error(STATUS_OF_CODE.get(error.code, 409), error.code, error.message, error.details)
    return JsonResponse({**outcome.result, "replay": outcome.is_replay}, status=200)
