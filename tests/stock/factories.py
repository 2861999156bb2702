from dataclasses import dataclass, fields

import factory

from stock.actors import Actor
from stock.models import (
    MovementKind,
    MovementSource,
    Product,
    ReasonCode,
    StockLevel,
    StockMovement,
    Variant,
)

# StockLevel, StockMovement, Variant
from stock.services import LevelChange, apply_change, receive_stock

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


@dataclass(frozen=True)
class Balance:
    """A level's named quantities and version, for exact before/after comparisons."""

    on_hand: int = 0
    reserved: int = 0
    unsellable: int = 0
    safety_stock: int = 0
    inbound: int = 0
    version: int = 0


BALANCE_FIELDS = tuple(item.name for item in fields(Balance))


def balance_of(level: StockLevel) -> Balance:
    """The level as the database holds it now, not as the Python object remembers it."""
    return Balance(**StockLevel.objects.filter(pk=level.pk).values(*BALANCE_FIELDS).get())


def ledger_ids() -> list[int]:
    """Every ledger row's id, oldest first: equal lists mean nothing was appended."""
    return list(StockMovement.objects.order_by("pk").values_list("pk", flat=True))


def reserved(variant, warehouse, quantity: int):
    """Commit `quantity` to orders through the ledger engine (orders have no service here)."""
    change = LevelChange(
        variant=variant,
        warehouse=warehouse,
        kind=MovementKind.RESERVE,
        reason=ReasonCode.ORDER,
        delta_reserved=quantity,
    )
    return apply_change(change, actor=SYSTEM, source=MovementSource.SYSTEM).level
