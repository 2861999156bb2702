"""The role policy (warehouses.access) is the one answer to "may this role do that"."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, Group, Permission

from inventory_hub.shell.roles import dashboard_role as shell_dashboard_role
from warehouses.access import (
    ADMIN_ACCESS,
    HUB_APPS,
    ROLES_THAT_MAY,
    AdminAccess,
    Capability,
    Role,
    dashboard_role,
    may,
)

pytestmark = pytest.mark.django_db


def user_in(role: Role):
    user = get_user_model().objects.create_user(username=role.name.lower())
    user.groups.add(Group.objects.get(name=role.value))
    return user


def expected_permissions(access: AdminAccess) -> set[str]:
    hub = Permission.objects.filter(content_type__app_label__in=HUB_APPS)
    if access == AdminAccess.VIEW:
        hub = hub.filter(codename__startswith="view_")
    elif access == AdminAccess.NONE:
        hub = hub.none()
    return {
        f"{app}.{codename}"
        for app, codename in hub.values_list("content_type__app_label", "codename")
    }


@pytest.mark.parametrize("role", list(Role))
def test_the_groups_hold_the_django_permissions_the_policy_gives_their_role(role):
    group = Group.objects.get(name=role.value)

    held = {
        f"{app}.{codename}"
        for app, codename in group.permissions.values_list("content_type__app_label", "codename")
    }

    assert held == expected_permissions(ADMIN_ACCESS[role])


def test_every_role_has_its_admin_access_and_every_capability_its_roles():
    assert set(ADMIN_ACCESS) == set(Role)
    assert set(ROLES_THAT_MAY) == set(Capability)


@pytest.mark.parametrize(
    ("role", "opens_dashboard"),
    [
        (Role.OPS_STAFF, True),
        (Role.WAREHOUSE_MANAGER, True),
        (Role.VIEWER, True),
        (Role.INTEGRATION, False),
    ],
)
def test_the_shell_asks_the_policy_who_opens_the_dashboard(role, opens_dashboard):
    user = user_in(role)

    answer = shell_dashboard_role(user)

    assert answer == (role if opens_dashboard else None)
    assert answer == dashboard_role(user)


def test_no_role_may_nothing():
    user = get_user_model().objects.create_user(username="nobody")

    assert [may(user, capability) for capability in Capability] == [False] * len(Capability)
    assert [may(AnonymousUser(), capability) for capability in Capability] == [False] * len(
        Capability
    )
