"""The Suggestions page (GET): open suggestions grouped by lane, each line with its reason,
before/after cover and risk, and the buttons the user may use; the settings form for ops
staff. Its forms are in actions.py."""

from dataclasses import dataclass

from django.http import HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers

from inventory_hub.htmx import HtmxHttpRequest
from inventory_hub.shell.views import dashboard_view
from suggestions.access import deciding_for, may_change_settings
from suggestions.listing import (
    lanes_of_open_suggestions,
    open_figures,
    settings_now,
    suggestions_list,
)
from suggestions.models import SuggestionState
from suggestions.views.forms import SettingsForm

RECENT_DECISIONS = 10


@dataclass(frozen=True, slots=True)
class ActionResult:
    message: str
    is_change: bool = True


def region_context(request: HtmxHttpRequest, *, settings_form: SettingsForm | None = None) -> dict:
    deciding = deciding_for(request.user)
    groups = lanes_of_open_suggestions()
    for group in groups:
        for suggestion in group.suggestions:
            suggestion.may_decide = deciding.covers(suggestion)  # type: ignore[attr-defined]
        group.may_approve = deciding.covers_source(group.lane.source_id)
    decided = suggestions_list().exclude(state=SuggestionState.OPEN).order_by("-decided_at", "-pk")
    may_configure = may_change_settings(request.user)
    if settings_form is None and may_configure:
        settings_form = SettingsForm(instance=settings_now())
    return {
        "groups": groups,
        "figures": open_figures(),
        "may_approve_some": any(group.may_approve for group in groups),
        "is_scoped": deciding.allowed and deciding.source_ids is not None,
        "decided": list(decided.filter(decided_at__isnull=False)[:RECENT_DECISIONS]),
        "settings": settings_now(),
        "settings_form": settings_form,
    }


def region_response(
    request: HtmxHttpRequest,
    *,
    result: ActionResult | None = None,
    status: int = 200,
    settings_form: SettingsForm | None = None,
) -> HttpResponse:
    """The page, or its region alone for HTMX (a form's answer, the minute's refresh)."""
    context = {**region_context(request, settings_form=settings_form), "result": result}
    if request.htmx and (request.method == "POST" or request.htmx.target == "live-region"):
        response = render(request, "suggestions/partials/list_region.html", context, status=status)
    else:
        response = render(request, "suggestions/list.html", context, status=status)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


@dashboard_view
def suggestions_page(request: HtmxHttpRequest) -> HttpResponse:
    return region_response(request)
