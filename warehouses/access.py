"""Roles and scopes: who may read and who may change what.

Roles are Django groups (migration warehouses/0003). A superuser counts as ops staff.
Warehouse managers and integrations change stock only where they are assigned: a
warehouse's `assigned_users`, and for integrations also the warehouses linked to a channel
whose `assigned_users` include them. Used by the API, the admin and the live pages alike.
"""

from enum import StrEnum

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from warehouses.models import ChannelWarehouse, SalesChannel, Warehouse


class Role(StrEnum):
    OPS_STAFF = "Ops staff"
    WAREHOUSE_MANAGER = "Warehouse manager"
    VIEWER = "Viewer"
    INTEGRATION = "Integration"


# Strongest first: a user in several groups acts with the strongest role.
_ROLE_ORDER = (Role.OPS_STAFF, Role.WAREHOUSE_MANAGER, Role.INTEGRATION, Role.VIEWER)


def role_of(user: AbstractBaseUser | AnonymousUser) -> Role | None:
    if not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return Role.OPS_STAFF
    cached = getattr(user, "_hub_role", False)
    if cached is not False:
        return cached
    names = set(user.groups.values_list("name", flat=True))
    role = next((role for role in _ROLE_ORDER if role.value in names), None)
    user._hub_role = role
    return role


def writable_warehouse_ids(user: AbstractBaseUser) -> set[int] | None:
    """Warehouses whose stock this user may change; None means all of them."""
    role = role_of(user)
    if role == Role.OPS_STAFF:
        return None
    if role == Role.WAREHOUSE_MANAGER:
        return set(Warehouse.objects.filter(assigned_users=user).values_list("pk", flat=True))
    if role == Role.INTEGRATION:
        own = set(Warehouse.objects.filter(assigned_users=user).values_list("pk", flat=True))
        via_channels = ChannelWarehouse.objects.filter(channel__assigned_users=user)
        return own | set(via_channels.values_list("warehouse_id", flat=True))
    return set()


def can_change_stock_at(user: AbstractBaseUser, warehouse: Warehouse) -> bool:
    allowed = writable_warehouse_ids(user)
    return allowed is None or warehouse.pk in allowed


def can_change_stock_somewhere(user: AbstractBaseUser) -> bool:
    allowed = writable_warehouse_ids(user)
    return allowed is None or bool(allowed)


def can_sell_on(user: AbstractBaseUser, channel: SalesChannel) -> bool:
    """Place, pay and cancel orders on this channel."""
    role = role_of(user)
    if role == Role.OPS_STAFF:
        return True
    if role == Role.INTEGRATION:
        return channel.assigned_users.filter(pk=user.pk).exists()
    return False


def readable_channel_ids(user: AbstractBaseUser | AnonymousUser) -> set[int] | None:
    """Channels whose orders this user may read; None means all of them. An integration
    reads only its channels' orders (its token answers for one shop, not the others');
    ops staff, warehouse managers and viewers read every channel's."""
    role = role_of(user)
    if role is None:
        return set()
    if role == Role.INTEGRATION:
        return set(SalesChannel.objects.filter(assigned_users=user).values_list("pk", flat=True))
    return None
