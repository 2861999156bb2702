"""Who may see and decide transfer suggestions: the one place that says so for the API and
the pages.

Every role that reads transfers reads suggestions, forecasts and the settings. Approving a
suggestion creates a transfer and approves it at the source, so it takes the right to
approve a transfer there (transfers.access): ops staff, or the source warehouse's managers.
Dismissing one is the same decision the other way, by the same people. The merchant's
settings (the cost of a lost sale) are setup: ops staff only.
"""

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from suggestions.models import Suggestion
from transfers.access import Action, may_act_between, may_manage_lanes, may_read_transfers
from warehouses.access import Capability, may, writable_warehouse_ids

User = AbstractBaseUser | AnonymousUser


def may_read_suggestions(user: User) -> bool:
    return may_read_transfers(user)


def may_change_settings(user: User) -> bool:
    return may_manage_lanes(user)


def may_decide_some(user: User) -> bool:
    """Whether the role decides suggestions at all (which ones: `may_decide`)."""
    return may(user, Capability.CHANGE_STOCK)


def may_decide(user: User, suggestion: Suggestion) -> bool:
    """Approve or dismiss this suggestion: the right to create and approve its transfer."""
    ends = {"source_id": suggestion.source_id, "destination_id": suggestion.destination_id}
    return may_act_between(user, Action.CREATE, **ends) and may_act_between(
        user, Action.APPROVE, **ends
    )


@dataclass(frozen=True, slots=True)
class Deciding:
    """Which suggestions a user may decide, read once for a page of them (the same answer as
    `may_decide`, without a query per suggestion)."""

    allowed: bool
    source_ids: frozenset[int] | None = None  # None: every source

    def covers(self, suggestion: Suggestion) -> bool:
        return self.covers_source(suggestion.source_id)

    def covers_source(self, source_id: int) -> bool:
        if not self.allowed:
            return False
        return self.source_ids is None or source_id in self.source_ids


def deciding_for(user: User) -> Deciding:
    if not may_decide_some(user):
        return Deciding(allowed=False)
    scope = writable_warehouse_ids(user)
    return Deciding(True, None if scope is None else frozenset(scope))
