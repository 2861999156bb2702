import factory

from warehouses.models import ChannelWarehouse, SalesChannel, Warehouse


class WarehouseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Warehouse
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"WH{n}")
    name = factory.LazyAttribute(lambda o: f"Warehouse {o.code}")


class SalesChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SalesChannel
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"channel-{n}")
    name = factory.LazyAttribute(lambda o: f"Channel {o.code}")


class ChannelWarehouseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChannelWarehouse

    channel = factory.SubFactory(SalesChannelFactory)
    warehouse = factory.SubFactory(WarehouseFactory)
    priority = factory.Sequence(lambda n: n + 1)


def signed_in(role, *warehouses, username: str):
    """A test client logged in as a new user of `role` (a warehouses.access.Role), assigned
    to `warehouses`."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import Client

    user = get_user_model().objects.create_user(username=username, password="unused")
    user.groups.add(Group.objects.get_or_create(name=role.value)[0])
    for warehouse in warehouses:
        warehouse.assigned_users.add(user)
    client = Client()
    client.force_login(user)
    return client
