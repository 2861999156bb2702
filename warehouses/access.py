"""The role policy: who may read and who may change what. The one module that says so.

Roles are Django groups (migration warehouses/0003). A superuser counts as ops staff.
What each role may do is the table `ROLES_THAT_MAY`; the API's permission classes
(warehouses.api.permissions), the admin's `has_*_permission` methods, the dashboard's pages
and their sockets (through the shell's role lookup, registered in WarehousesConfig.ready())
all ask it. The admin also reads Django model permissions: `ADMIN_ACCESS` says which each
role's group holds (migration 0005 granted them; a test keeps the two equal).

Warehouse managers and integrations change stock only where they are assigned: a
warehouse's `assigned_users`, and for integrations also the warehouses linked to a channel
whose `assigned_users` include them.
"""

from collections.abc import Mapping
from enum import StrEnum
from typing import Literal, cast

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User

from warehouses.models import ChannelWarehouse, SalesChannel, Warehouse


class Role(StrEnum):
    OPS_STAFF = "Ops staff"
    WAREHOUSE_MANAGER = "Warehouse manager"
    VIEWER = "Viewer"
    INTEGRATION = "Integration"


# Strongest first: a user in several groups acts with the strongest role.
_ROLE_ORDER = (Role.OPS_STAFF, Role.WAREHOUSE_MANAGER, Role.INTEGRATION, Role.VIEWER)


class Capability(StrEnum):
    """Something a role may do; where it applies (which warehouses, which channels) is the
    scope functions' below to say."""

    READ = "read through the API"
    CHANGE_ANYTHING = "change what no narrower capability covers (setup, catalogue, stores)"
    CHANGE_STOCK = "change stock in the warehouses of one's scope"
    CHANGE_ORDERS = "place, pay, ship and cancel orders within one's scope"
    SHIP_FROM_OWN_WAREHOUSES = "ship the lines held in one's warehouses, on any channel"
    OPEN_DASHBOARD = "open the live dashboard's pages and sockets"
    FORCE_STATUS = "force a variant's storefront status on every channel"
    REPLAY_DEAD_LETTERS = "replay a store's dead letters (which then change stock)"
    SEE_SECRET_OPTIONS = "see connector options that may carry a secret"
    USE_EVERY_STOCK_OPERATION = "receive, write off and set safety stock in the admin"


_OPS = frozenset({Role.OPS_STAFF})
_STOCK_WRITERS = frozenset({Role.OPS_STAFF, Role.WAREHOUSE_MANAGER, Role.INTEGRATION})

ROLES_THAT_MAY: Mapping[Capability, frozenset[Role]] = {
    Capability.READ: frozenset(Role),
    Capability.CHANGE_ANYTHING: _OPS,
    Capability.CHANGE_STOCK: _STOCK_WRITERS,
    Capability.CHANGE_ORDERS: _STOCK_WRITERS,
    Capability.SHIP_FROM_OWN_WAREHOUSES: frozenset({Role.WAREHOUSE_MANAGER}),
    # Integrations are programs: they use the API, never the pages.
    Capability.OPEN_DASHBOARD: frozenset({Role.OPS_STAFF, Role.WAREHOUSE_MANAGER, Role.VIEWER}),
    # A forced status applies to whole channels, beyond any one warehouse.
    Capability.FORCE_STATUS: _OPS,
    Capability.REPLAY_DEAD_LETTERS: _OPS,
    Capability.SEE_SECRET_OPTIONS: _OPS,
    # Managers change stock in the admin as the API and the dashboard let them: adjustments
    # and counts only.
    Capability.USE_EVERY_STOCK_OPERATION: _OPS,
}


class AdminAccess(StrEnum):
    """The Django model permissions a role's group holds on the hub's apps (the admin)."""

    ALL = "all"
    VIEW = "view"
    NONE = "none"


# The apps whose model permissions the role groups hold (migrations 0003 and 0005).
HUB_APPS = (
    "warehouses",
    "stock",
    "transfers",
    "alerts",
    "connectors",
    "suggestions",
    "inventory_hub",
)
ADMIN_ACCESS: Mapping[Role, AdminAccess] = {
    Role.OPS_STAFF: AdminAccess.ALL,
    Role.WAREHOUSE_MANAGER: AdminAccess.VIEW,
    Role.VIEWER: AdminAccess.VIEW,
    Role.INTEGRATION: AdminAccess.NONE,
}


def _hub_user(user: AbstractBaseUser | AnonymousUser) -> User:
    """A signed-in user as the hub's user model, django.contrib.auth's User (the settings
    leave AUTH_USER_MODEL as it is); request.user is typed as any user model's base."""
    return cast(User, user)


def role_of(user: AbstractBaseUser | AnonymousUser) -> Role | None:
    if not user.is_authenticated or not user.is_active:
        return None
    hub_user = _hub_user(user)
    if hub_user.is_superuser:
        return Role.OPS_STAFF
    # Set below; False: not cached yet.
    cached = cast("Role | Literal[False] | None", getattr(user, "_hub_role", False))
    if cached is not False:
        return cached
    names = set(hub_user.groups.values_list("name", flat=True))
    role = next((role for role in _ROLE_ORDER if role.value in names), None)
    # Cached on the user object for the rest of the request, as Django caches permissions.
    hub_user._hub_role = role  # type: ignore[attr-defined]  # no User field: a cache we set
    return role


def role_may(role: str | None, capability: Capability) -> bool:
    """Whether a role (by name: a Role is its name) has the capability."""
    return role in ROLES_THAT_MAY[capability]


def may(user: AbstractBaseUser | AnonymousUser, capability: Capability) -> bool:
    """Whether the user's role has the capability (anywhere: the scope is asked apart)."""
    return role_may(role_of(user), capability)


def dashboard_role(user: AbstractBaseUser | AnonymousUser) -> Role | None:
    """The role the user acts with on the dashboard; None when they may not open it."""
    role = role_of(user)
    return role if role_may(role, Capability.OPEN_DASHBOARD) else None


def writable_warehouse_ids(user: AbstractBaseUser | AnonymousUser) -> set[int] | None:
    """Warehouses whose stock this user may change; None means all of them."""
    role = role_of(user)
    if role == Role.OPS_STAFF:
        return None
    if role == Role.WAREHOUSE_MANAGER:
        return set(
            Warehouse.objects.filter(assigned_users=_hub_user(user)).values_list("pk", flat=True)
        )
    if role == Role.INTEGRATION:
        hub_user = _hub_user(user)
        own = set(Warehouse.objects.filter(assigned_users=hub_user).values_list("pk", flat=True))
        via_channels = ChannelWarehouse.objects.filter(channel__assigned_users=hub_user)
        return own | set(via_channels.values_list("warehouse_id", flat=True))
    return set()


def can_change_stock_at(user: AbstractBaseUser | AnonymousUser, warehouse: Warehouse) -> bool:
    allowed = writable_warehouse_ids(user)
    return allowed is None or warehouse.pk in allowed


def can_change_stock_somewhere(user: AbstractBaseUser | AnonymousUser) -> bool:
    allowed = writable_warehouse_ids(user)
    return allowed is None or bool(allowed)


def can_sell_on(user: AbstractBaseUser | AnonymousUser, channel: SalesChannel) -> bool:
    """Place, pay and cancel orders on this channel."""
    role = role_of(user)
    if role == Role.OPS_STAFF:
        return True
    if role == Role.INTEGRATION:
        return channel.assigned_users.filter(pk=_hub_user(user).pk).exists()
    return False


def readable_channel_ids(user: AbstractBaseUser | AnonymousUser) -> set[int] | None:
    """Channels whose orders this user may read; None means all of them. An integration
    reads only its channels' orders (its token answers for one shop, not the others');
    ops staff, warehouse managers and viewers read every channel's."""
    role = role_of(user)
    if role is None:
        return set()
    if role == Role.INTEGRATION:
        channels = SalesChannel.objects.filter(assigned_users=_hub_user(user))
        return set(channels.values_list("pk", flat=True))
    return None
