from django.http import HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers

from inventory_hub.htmx import HtmxHttpRequest
from inventory_hub.shell.views import dashboard_view
from stock.views.fragments import overview_context
from warehouses.models import Warehouse


def chosen_id(request: HtmxHttpRequest, name: str, allowed: set[int]) -> int | None:
    """An id from the query string, or None when absent, malformed or not one of `allowed`."""
    try:
        value = int(request.GET.get(name, ""))
    except ValueError:
        return None
    return value if value in allowed else None


@dashboard_view
def overview(request: HtmxHttpRequest) -> HttpResponse:
    warehouses = list(Warehouse.objects.order_by("code"))
    warehouse_id = chosen_id(request, "warehouse", {w.pk for w in warehouses})
    live_url = "/ws/live/overview/"
    if warehouse_id is not None:
        live_url += f"?warehouse={warehouse_id}"
    context = {
        **overview_context(warehouse_id=warehouse_id),
        "warehouses": warehouses,
        "warehouse_id": warehouse_id,
        "live_url": live_url,
    }
    if request.htmx and request.htmx.target == "live-region":
        response = render(request, "stock/partials/overview_region.html", context)
    else:
        response = render(request, "stock/overview.html", context)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response
