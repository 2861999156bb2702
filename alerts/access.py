"""Who may do what with alerts: the one place that says so for the API, admin and pages.

The roles are warehouses.access's. Every role reads alerts and the delivery log. Ops staff
set up rules, receivers, routes and escalation, resolve alerts by hand and expire any
silence. Warehouse managers acknowledge the alerts of their warehouses (and those of no
warehouse, such as a channel's or a connector's), create silences and expire their own.
"""

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from alerts.models import Alert, Silence
from warehouses.access import Capability, Role, may, role_of, writable_warehouse_ids

User = AbstractBaseUser | AnonymousUser

_ACKNOWLEDGERS = frozenset({Role.OPS_STAFF, Role.WAREHOUSE_MANAGER})


def may_read_alerts(user: User) -> bool:
    return may(user, Capability.READ)


def may_configure_alerts(user: User) -> bool:
    """Rules, receivers, routes, escalation steps; resolving by hand."""
    return may(user, Capability.CHANGE_ANYTHING)


def may_acknowledge_some(user: User) -> bool:
    """Whether the role acknowledges alerts at all (which ones: `may_acknowledge`)."""
    return role_of(user) in _ACKNOWLEDGERS


def may_acknowledge(user: User, alert: Alert) -> bool:
    if not may_acknowledge_some(user):
        return False
    scope = writable_warehouse_ids(user)
    return scope is None or alert.warehouse_id is None or alert.warehouse_id in scope


def may_silence(user: User) -> bool:
    return may_acknowledge_some(user)


def may_expire(user: User, silence: Silence) -> bool:
    """Ops staff expire any silence; a manager the ones they made."""
    if may_configure_alerts(user):
        return True
    return may_silence(user) and silence.author == user.get_username()


@dataclass(frozen=True, slots=True)
class Handling:
    """Which alerts a user may acknowledge and silence, read once for a page of them (the
    same answer as `may_acknowledge`, without a query per alert)."""

    allowed: bool
    warehouse_ids: frozenset[int] | None = None  # None: every warehouse

    def covers(self, alert: Alert) -> bool:
        if not self.allowed:
            return False
        scope = self.warehouse_ids
        return scope is None or alert.warehouse_id is None or alert.warehouse_id in scope


def handling_for(user: User) -> Handling:
    if not may_acknowledge_some(user):
        return Handling(allowed=False)
    scope = writable_warehouse_ids(user)
    return Handling(True, None if scope is None else frozenset(scope))
