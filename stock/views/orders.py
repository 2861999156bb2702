from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers

from stock.views.access import dashboard_view
from stock.views.fragments import orders_context
from stock.views.overview import chosen_id
from warehouses.models import SalesChannel


@dashboard_view
def orders(request: HttpRequest) -> HttpResponse:
    channels = list(SalesChannel.objects.order_by("code"))
    channel_id = chosen_id(request, "channel", {c.pk for c in channels})
    live_url = "/ws/live/orders/"
    if channel_id is not None:
        live_url += f"?channel={channel_id}"
    context = {
        **orders_context(channel_id=channel_id),
        "channels": channels,
        "channel_id": channel_id,
        "live_url": live_url,
    }
    if request.htmx and request.htmx.target == "live-region":
        response = render(request, "stock/partials/orders_region.html", context)
    else:
        response = render(request, "stock/orders.html", context)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response
