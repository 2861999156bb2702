from collections.abc import Callable

from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_POST

from inventory_hub.htmx import HtmxHttpRequest
from inventory_hub.shell.views import dashboard_view
from stock.actors import Actor
from stock.errors import StockError
from stock.models import Order
from stock.services.orders import cancel_short_units as cancel_short_units_service
from stock.services.orders import fill_shortfall as fill_shortfall_service
from stock.views.fragments import orders_context, resolvable_channel_ids
from stock.views.overview import chosen_id
from stock.views.variants import ActionResult
from warehouses.access import can_sell_on
from warehouses.models import SalesChannel


def _orders_response(
    request: HtmxHttpRequest,
    *,
    channel_id: int | None,
    channels: list[SalesChannel],
    result: ActionResult | None = None,
    status: int = 200,
) -> HttpResponse:
    live_url = "/ws/live/orders/"
    if channel_id is not None:
        live_url += f"?channel={channel_id}"
    context = {
        **orders_context(channel_id=channel_id),
        "resolvable_channel_ids": resolvable_channel_ids(request.user),
        "result": result,
        "channels": channels,
        "channel_id": channel_id,
        "live_url": live_url,
    }
    if request.htmx and (request.method == "POST" or request.htmx.target == "live-region"):
        response = render(request, "stock/partials/orders_region.html", context, status=status)
    else:
        response = render(request, "stock/orders.html", context, status=status)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


@dashboard_view
def orders(request: HtmxHttpRequest) -> HttpResponse:
    channels = list(SalesChannel.objects.order_by("code"))
    channel_id = chosen_id(request, "channel", {c.pk for c in channels})
    return _orders_response(request, channel_id=channel_id, channels=channels)


def _resolve_short_order(
    request: HtmxHttpRequest,
    pk: int,
    *,
    service: Callable[..., Order],
    done: str,
) -> HttpResponse:
    """Run one short-order service for a user who may change this order's channel, and answer
    with the orders region (the page keeps its channel filter, sent back by the form)."""
    order = get_object_or_404(Order.objects.select_related("channel"), pk=pk)
    channels = list(SalesChannel.objects.order_by("code"))
    channel_id = chosen_id(request, "channel", {c.pk for c in channels})
    if not can_sell_on(request.user, order.channel):
        result = ActionResult(
            f"You may not change orders on {order.channel.name}; nothing was changed.",
            is_change=False,
        )
        status = 403
    else:
        try:
            service(order=order, actor=Actor.for_user(request.user))
        except StockError as error:
            result = ActionResult(f"{error.message} Nothing was changed.", is_change=False)
            status = 422
        else:
            if not request.htmx:
                url = reverse("dashboard:orders")
                return HttpResponseRedirect(f"{url}?channel={channel_id}" if channel_id else url)
            result, status = ActionResult(f"Order {order.reference}: {done}"), 200
    return _orders_response(
        request, channel_id=channel_id, channels=channels, result=result, status=status
    )


@require_POST
@dashboard_view
def fill_shortfall(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _resolve_short_order(
        request,
        pk,
        service=fill_shortfall_service,
        done="the shortfall was filled with what the channel's warehouses hold now.",
    )


@require_POST
@dashboard_view
def cancel_short_units(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _resolve_short_order(
        request,
        pk,
        service=cancel_short_units_service,
        done="the short units were cancelled; the store refunds them.",
    )
