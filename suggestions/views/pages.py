"""The Suggestions page (GET): open suggestions grouped by lane, each line with its reason,
before/after cover and risk, and the buttons the user may use; the settings form for ops
staff. Its forms are in actions.py."""

from dataclasses import dataclass

from django.http import HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers

from inventory_hub.htmx import HtmxHttpRequest
from inventory_hub.shell.views import dashboard_view
from suggestions.views.forms import SettingsForm
from suggestions.views.fragments import region_context


@dataclass(frozen=True, slots=True)
class ActionResult:
    message: str
    is_change: bool = True


def region_response(
    request: HtmxHttpRequest,
    *,
    result: ActionResult | None = None,
    status: int = 200,
    settings_form: SettingsForm | None = None,
) -> HttpResponse:
    """The page, or its region alone for HTMX (a form's answer, the minute's refresh)."""
    context = {**region_context(request.user, settings_form=settings_form), "result": result}
    if request.htmx and (request.method == "POST" or request.htmx.target == "live-region"):
        response = render(request, "suggestions/partials/list_region.html", context, status=status)
    else:
        response = render(request, "suggestions/list.html", context, status=status)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


@dashboard_view
def suggestions_page(request: HtmxHttpRequest) -> HttpResponse:
    return region_response(request)
