"""The dashboard's one question about roles, answered by the app that owns them.

The shell imports no app, so it cannot name roles: warehouses (their owner, in
warehouses.access) registers its answer in its `AppConfig.ready()`.
"""

from collections.abc import Callable

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ImproperlyConfigured

# (user) -> the role the user acts with on the dashboard, or None when they may not open it.
DashboardRoleLookup = Callable[[AbstractBaseUser | AnonymousUser], str | None]
_lookup: DashboardRoleLookup | None = None


def register_dashboard_roles(lookup: DashboardRoleLookup) -> None:
    global _lookup
    _lookup = lookup


def dashboard_role(user: AbstractBaseUser | AnonymousUser) -> str | None:
    """The user's role on the dashboard (a role's name); None: the dashboard is not theirs."""
    if _lookup is None:
        raise ImproperlyConfigured("No app registered the dashboard's role lookup.")
    return _lookup(user)
