"""DRF's side of suggestions.access: the role question, before a view knows the suggestion.

Which suggestions a user may decide (their source's) is asked by the views once they have
loaded them.
"""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from suggestions.access import may_change_settings, may_decide_some, may_read_suggestions


class SuggestionDeciders(BasePermission):
    """Every role reads suggestions; the roles that approve transfers decide them."""

    message = "Your role may not approve or dismiss suggestions."

    def has_permission(self, request, view) -> bool:
        if not may_read_suggestions(request.user):
            return False
        return request.method in SAFE_METHODS or may_decide_some(request.user)


class SettingsManagers(BasePermission):
    """Every role reads the settings; only ops staff change them."""

    message = "Only ops staff may change the suggestion settings."

    def has_permission(self, request, view) -> bool:
        if not may_read_suggestions(request.user):
            return False
        return request.method in SAFE_METHODS or may_change_settings(request.user)
