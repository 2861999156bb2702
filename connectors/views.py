"""The inbound webhook endpoint: verify, store, answer fast (see connectors.inbound.receiving)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from connectors.inbound.receiving import receive_delivery
from connectors.models import Connector


@csrf_exempt
@require_POST
def inbound(request: HttpRequest, connector_id: int) -> JsonResponse:
    """POST /connectors/<id>/inbound/: 401 bad signature, 400 malformed (kept), 200 stored,
    duplicate or ping. Unknown or inactive connectors are 404.

    The common case (active connector, valid and readable delivery) is answered before
    Django by connectors.fast_inbound; this view answers the rest, and everything when the
    fast path is off or the database is SQLite."""
    connector = Connector.objects.filter(pk=connector_id, is_active=True).first()
    if connector is None:
        return JsonResponse(
            {
                "error": {
                    "code": "not_found",
                    "message": f"No active connector {connector_id}.",
                    "details": {},
                }
            },
            status=404,
        )
    receipt = receive_delivery(
        connector=connector,
        headers=request.headers,
        body=request.body,
        remote_addr=request.META.get("REMOTE_ADDR", ""),
    )
    return JsonResponse(receipt.body, status=receipt.status)
