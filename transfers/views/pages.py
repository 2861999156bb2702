"""The Transfers page and one transfer's page (GET); their forms are in actions.py."""

from dataclasses import dataclass

from django.http import HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers

from inventory_hub.htmx import HtmxHttpRequest
from inventory_hub.shell.views import dashboard_view
from transfers.models import Transfer
from transfers.views.fragments import (
    actions_context,
    list_context,
    summary_context,
    transfer_for_page,
)


@dataclass(frozen=True, slots=True)
class ActionResult:
    message: str
    is_change: bool = True


@dashboard_view
def transfers_page(request: HtmxHttpRequest) -> HttpResponse:
    context = {**list_context(), "live_url": "/ws/live/transfers/"}
    if request.htmx and request.htmx.target == "live-region":
        response = render(request, "transfers/partials/list_region.html", context)
    else:
        response = render(request, "transfers/list.html", context)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


def not_found(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return render(request, "transfers/not_found.html", {"pk": pk}, status=404)


def detail_response(
    request: HtmxHttpRequest,
    transfer: Transfer,
    *,
    result: ActionResult | None = None,
    status: int = 200,
    **bound,
) -> HttpResponse:
    """The transfer's page, or its live region alone for HTMX (a form's answer, a resync)."""
    summary = summary_context(transfer)
    context = {
        **summary,
        **actions_context(transfer, request.user, summary["lines"], **bound),
        "result": result,
        "live_url": f"/ws/live/transfers/{transfer.pk}/",
    }
    if request.htmx and (request.method == "POST" or request.htmx.target == "live-region"):
        response = render(request, "transfers/partials/detail_region.html", context, status=status)
    else:
        response = render(request, "transfers/detail.html", context, status=status)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


@dashboard_view
def transfer_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    transfer = transfer_for_page(pk)
    if transfer is None:
        return not_found(request, pk)
    return detail_response(request, transfer)
