import factory

from stock.actors import Actor
from stock.models import Product, Variant
from stock.services import receive_stock

SYSTEM = Actor.system("tests")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    name = factory.Sequence(lambda n: f"Product {n}")


class VariantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Variant

    product = factory.SubFactory(ProductFactory)
    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    attributes = factory.LazyFunction(lambda: {"size": "queen", "colour": "white"})


def stocked(variant, warehouse, quantity: int):
    """Put `quantity` on hand through the service layer, so the ledger agrees."""
    outcome = receive_stock(variant=variant, warehouse=warehouse, quantity=quantity, actor=SYSTEM)
    return outcome.level
