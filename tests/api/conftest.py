import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from warehouses.access import Role


@pytest.fixture(autouse=True)
def fresh_cache():
    """Throttle counters and cached availability must not leak from one test to the next."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def make_client(db):
    """An API client authenticated by token as a new user with `role` (None: no role)."""

    def make(role: Role | None, *, username: str | None = None, warehouses=(), channels=()):
        user = get_user_model().objects.create_user(
            username=username or f"{(role or 'nobody').replace(' ', '-').lower()}-user",
            password="irrelevant-for-token-auth",
        )
        if role is not None:
            # get_or_create: a transactional test's flush empties the groups the migration made.
            user.groups.add(Group.objects.get_or_create(name=role.value)[0])
        for warehouse in warehouses:
            warehouse.assigned_users.add(user)
        for channel in channels:
            channel.assigned_users.add(user)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
        client.user = user
        return client

    return make


@pytest.fixture
def ops_client(make_client):
    return make_client(Role.OPS_STAFF, username="ops")
