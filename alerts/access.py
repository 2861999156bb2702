"""Who may do what to alerts, for the pages (and anyone else who asks): the roles are
warehouses.access's.

Everyone with the dashboard reads alerts. Ops staff acknowledge, silence and resolve any
alert, edit rules and send test messages. A warehouse manager acknowledges and silences the
alerts of the warehouses of their scope, and those of no warehouse (a channel, a
connector); viewers read.
"""

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from alerts.models import Alert
from warehouses.access import Capability, Role, may, role_of, writable_warehouse_ids

User = AbstractBaseUser | AnonymousUser


def may_manage_alerts(user: User) -> bool:
    """Rules, receivers, resolving by hand: setup, ops staff only."""
    return may(user, Capability.CHANGE_ANYTHING)


def may_handle_alerts(user: User) -> bool:
    """Whether the user may acknowledge or silence some alert (ops staff, managers)."""
    return role_of(user) in (Role.OPS_STAFF, Role.WAREHOUSE_MANAGER)


@dataclass(frozen=True, slots=True)
class Handling:
    """Which alerts a user may acknowledge and silence, read once for a page of them."""

    allowed: bool
    warehouse_ids: frozenset[int] | None = None  # None: every warehouse

    def covers(self, alert: Alert) -> bool:
        if not self.allowed:
            return False
        scope = self.warehouse_ids
        return scope is None or alert.warehouse_id is None or alert.warehouse_id in scope


def handling_for(user: User) -> Handling:
    if not may_handle_alerts(user):
        return Handling(allowed=False)
    scope = writable_warehouse_ids(user)
    return Handling(True, None if scope is None else frozenset(scope))


def may_handle(user: User, alert: Alert) -> bool:
    """Whether the user may acknowledge or silence this alert."""
    return handling_for(user).covers(alert)
