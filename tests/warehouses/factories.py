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
