"""The Suggestions page's region: what it shows a user, for the page, its forms' answers
and the live pushes (suggestions.consumers)."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.template.loader import render_to_string

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


def region_context(
    user: AbstractBaseUser | AnonymousUser, *, settings_form: SettingsForm | None = None
) -> dict:
    deciding = deciding_for(user)
    groups = lanes_of_open_suggestions()
    for group in groups:
        group.may_approve = deciding.covers_source(group.lane.source_id)
        for suggestion in group.suggestions:
            suggestion.may_decide = group.may_approve  # type: ignore[attr-defined]
    decided = suggestions_list().exclude(state=SuggestionState.OPEN)
    decided = decided.filter(decided_at__isnull=False).order_by("-decided_at", "-pk")
    settings = settings_now()
    if settings_form is None and may_change_settings(user):
        settings_form = SettingsForm(instance=settings)
    return {
        "groups": groups,
        "figures": open_figures(),
        "may_approve_some": any(group.may_approve for group in groups),
        "is_scoped": deciding.allowed and deciding.source_ids is not None,
        "decided": list(decided[:RECENT_DECISIONS]),
        "settings": settings,
        "settings_form": settings_form,
        "live_url": "/ws/live/suggestions/",
    }


def render_region(user: AbstractBaseUser | AnonymousUser, *, oob: bool) -> str:
    # A push carries no CSRF token: the forms post with the page's own (base.html's
    # hx-headers), as the transfer pages' pushed forms do.
    context = {**region_context(user), "oob": oob}
    return render_to_string("suggestions/partials/list_region.html", context)
