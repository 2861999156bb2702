"""The Suggestions page's forms: each calls one suggestions service as the signed-in user.

Every POST asks suggestions.access again (a viewer, or a manager of another warehouse, gets
403 and nothing changes), whatever buttons the page showed. A POST that changes nothing (a
transfer refused for lack of stock, a suggestion decided meanwhile, a bad settings value)
answers 422 with the reason; the services write nothing of a refused lane. Without
JavaScript a success redirects to the page.
"""

from collections.abc import Iterable

from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from inventory_hub.htmx import HtmxHttpRequest
from inventory_hub.shell.views import dashboard_view
from stock.actors import Actor
from stock.errors import StockError
from suggestions.access import deciding_for, may_change_settings, may_decide
from suggestions.events import publish_suggestions_changed
from suggestions.listing import settings_now
from suggestions.models import Suggestion, SuggestionState
from suggestions.services.decisions import (
    ApprovalResult,
    approve_all,
    approve_lane,
    approve_suggestions,
    dismiss_suggestion,
)
from suggestions.services.settings import update_settings
from suggestions.views.forms import SettingsForm
from suggestions.views.fragments import render_region
from suggestions.views.pages import ActionResult, region_response
from transfers.models import Lane

MAX_NOTE = 1000


def _answer(
    request: HtmxHttpRequest, result: ActionResult, *, variant_ids: Iterable[int] = ()
) -> HttpResponse:
    if not result.is_change:
        return region_response(request, result=result, status=422)
    publish_suggestions_changed(variant_ids=variant_ids)
    if not request.htmx:
        return HttpResponseRedirect(reverse("suggestions:list"))
    return region_response(request, result=result)


def _refused(request: HtmxHttpRequest, message: str) -> HttpResponse:
    return region_response(request, result=ActionResult(message, is_change=False), status=403)


def approval_message(result: ApprovalResult) -> ActionResult:
    """What approving made and what was refused, in a sentence or two."""
    parts = []
    if result.transfers:
        made = ", ".join(
            f"{transfer.reference} ({transfer.source.code} → {transfer.destination.code})"
            for transfer in result.transfers
        )
        count = len(result.transfers)
        parts.append(f"{count} transfer{'s' if count != 1 else ''} created and approved: {made}.")
    for refusal in result.refusals:
        parts.append(f"Nothing was created for {refusal.route}: {refusal.message}")
    if not parts:
        parts.append("Nothing was open to approve; nothing was changed.")
    return ActionResult(" ".join(parts), is_change=bool(result.transfers))


def _variants(result: ApprovalResult) -> list[int]:
    rows = Suggestion.objects.filter(pk__in=result.approved_ids)
    return list(rows.values_list("variant_id", flat=True))


def _suggestion(pk: int) -> Suggestion | None:
    return (
        Suggestion.objects.select_related("variant", "source", "destination").filter(pk=pk).first()
    )


def _gone(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    message = f"There is no suggestion {pk}; nothing was changed."
    return region_response(request, result=ActionResult(message, is_change=False), status=404)


def _decidable(request: HtmxHttpRequest, pk: int, verb: str) -> Suggestion | HttpResponse:
    """The suggestion this user may `verb`, or the answer that says why not."""
    suggestion = _suggestion(pk)
    if suggestion is None:
        return _gone(request, pk)
    if not may_decide(request.user, suggestion):
        message = (
            f"Your role may not {verb} suggestions from {suggestion.source.code}; nothing "
            "was changed."
        )
        return _refused(request, message)
    return suggestion


@require_POST
@dashboard_view
def approve(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    suggestion = _decidable(request, pk, "approve")
    if isinstance(suggestion, HttpResponse):
        return suggestion
    if suggestion.state != SuggestionState.OPEN:
        message = (
            f"This suggestion is {suggestion.get_state_display().lower()} already; nothing "
            "was changed."
        )
        return _answer(request, ActionResult(message, is_change=False))
    result = approve_suggestions(suggestion_ids=[pk], actor=Actor.for_user(request.user))
    return _answer(request, approval_message(result), variant_ids=_variants(result))


@require_POST
@dashboard_view
def approve_lane_view(request: HtmxHttpRequest, lane_id: int) -> HttpResponse:
    lane = Lane.objects.select_related("source", "destination").filter(pk=lane_id).first()
    if lane is None:
        message = f"There is no lane {lane_id}; nothing was changed."
        return region_response(request, result=ActionResult(message, False), status=404)
    if not deciding_for(request.user).covers_source(lane.source_id):
        return _refused(
            request,
            f"Your role may not approve the lane {lane.source.code} → "
            f"{lane.destination.code}; nothing was changed.",
        )
    result = approve_lane(lane_id=lane.pk, actor=Actor.for_user(request.user))
    return _answer(request, approval_message(result), variant_ids=_variants(result))


@require_POST
@dashboard_view
def approve_all_view(request: HtmxHttpRequest) -> HttpResponse:
    deciding = deciding_for(request.user)
    if not deciding.allowed:
        return _refused(request, "Your role reads suggestions; nothing was changed.")
    actor = Actor.for_user(request.user)
    if deciding.source_ids is None:
        result = approve_all(actor=actor)
    else:
        ids = Suggestion.objects.filter(
            state=SuggestionState.OPEN, source_id__in=deciding.source_ids
        ).values_list("pk", flat=True)
        result = approve_suggestions(suggestion_ids=list(ids), actor=actor)
    return _answer(request, approval_message(result), variant_ids=_variants(result))


@require_POST
@dashboard_view
def dismiss(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    suggestion = _decidable(request, pk, "dismiss")
    if isinstance(suggestion, HttpResponse):
        return suggestion
    note = request.POST.get("note", "").strip()
    if len(note) > MAX_NOTE or "\x00" in note:
        message = f"A note is at most {MAX_NOTE} characters of text; nothing was changed."
        return _answer(request, ActionResult(message, is_change=False))
    try:
        dismiss_suggestion(suggestion_id=pk, actor=Actor.for_user(request.user), note=note)
    except StockError as error:
        return _answer(request, ActionResult(f"{error.message} Nothing was changed.", False))
    message = (
        f"Dismissed: {suggestion.quantity} of {suggestion.variant.sku} "
        f"{suggestion.source.code} → {suggestion.destination.code} is not suggested again "
        "until the situation changes."
    )
    return _answer(request, ActionResult(message), variant_ids=[suggestion.variant_id])


def _settings_response(
    request: HtmxHttpRequest, form: SettingsForm, result: ActionResult, *, status: int = 200
) -> HttpResponse:
    """The settings form with what happened; after a save, the region too (out of band: it
    says what a lost sale is counted at)."""
    context = {"settings_form": form, "settings_result": result}
    response = render(request, "suggestions/partials/settings_form.html", context, status=status)
    if result.is_change:
        response.write(render_region(request.user, oob=True))
    return response


@require_POST
@dashboard_view
def save_settings(request: HtmxHttpRequest) -> HttpResponse:
    if not may_change_settings(request.user):
        return _refused(request, "Only ops staff change the settings; nothing was changed.")
    form = SettingsForm(request.POST, instance=settings_now())
    if not form.is_valid():
        result = ActionResult("The settings were not saved: see the form.", is_change=False)
        return _settings_response(request, form, result, status=422)
    try:
        saved = update_settings(actor=Actor.for_user(request.user), **form.cleaned_data)
    except StockError as error:
        result = ActionResult(f"{error.message} Nothing was saved.", is_change=False)
        return _settings_response(request, form, result, status=422)
    publish_suggestions_changed()
    if not request.htmx:
        return HttpResponseRedirect(reverse("suggestions:list"))
    result = ActionResult("Settings saved: the next review uses them.")
    return _settings_response(request, SettingsForm(instance=saved), result)
