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


# --- Orders (tests/stock/test_orders.py and its neighbours) ----------------------------------
# Imported here so this block stays appended; hoist when the module is next reorganised.
from stock.models import Order  # noqa: E402
from stock.services.orders import OrderLineInput, PlacedOrder, place_order  # noqa: E402
from tests.warehouses.factories import ChannelWarehouseFactory, SalesChannelFactory  # noqa: E402


def channel_selling_from(*warehouses, **fields):
    """A sales channel linked to `warehouses`, priorities 1, 2, … in the order given."""
    channel = SalesChannelFactory(**fields)
    for priority, warehouse in enumerate(warehouses, start=1):
        ChannelWarehouseFactory(channel=channel, warehouse=warehouse, priority=priority)
    return channel


def place(channel, reference: str, *lines: tuple[str, int], **options) -> PlacedOrder:
    """Place an order of (sku, quantity) lines through the service, as the tests' actor."""
    return place_order(
        channel=channel,
        reference=reference,
        lines=[OrderLineInput(sku=sku, quantity=quantity) for sku, quantity in lines],
        actor=SYSTEM,
        **options,
    )


def order_movements(order: Order) -> list[StockMovement]:
    """The ledger rows whose source document is this order, oldest first."""
    return list(StockMovement.objects.filter(document=order.document).order_by("pk"))


@dataclass(frozen=True)
class OrdersState:
    """Every order, line, allocation, ledger row and balance: equal states mean nothing moved."""

    orders: tuple
    lines: tuple
    allocations: tuple
    ledger: tuple[int, ...]
    balances: tuple


def orders_state() -> OrdersState:
    from stock.models import Allocation, OrderLine

    return OrdersState(
        orders=tuple(
            Order.objects.order_by("pk").values_list(
                "pk", "status", "expires_at", "paid_at", "shipped_at", "closed_at"
            )
        ),
        lines=tuple(
            OrderLine.objects.order_by("pk").values_list(
                "pk", "status", "quantity", "backordered_quantity"
            )
        ),
        allocations=tuple(
            Allocation.objects.order_by("pk").values_list(
                "pk", "level_id", "quantity", "status", "expires_at"
            )
        ),
        ledger=tuple(ledger_ids()),
        balances=tuple(StockLevel.objects.order_by("pk").values_list("pk", *BALANCE_FIELDS)),
    )


def set_clock(monkeypatch, moment) -> None:
    """Make `django.utils.timezone.now()` answer `moment` (services and selectors read it)."""
    from django.utils import timezone

    monkeypatch.setattr(timezone, "now", lambda: moment)


@dataclass
class Attempt:
    """What one concurrent job returned or raised."""

    result: object = None
    error: Exception | None = None


def run_at_once(jobs, *, workers: int) -> list[Attempt]:
    """Run `jobs` (callables) on `workers` threads that a barrier releases together.

    Each thread opens its own database connection before the barrier, so the first jobs
    really collide in PostgreSQL, then takes jobs from a shared queue until none are left,
    and closes its connection at the end. Returns one Attempt per job, in job order.
    """
    import queue
    import threading

    from django.db import connection

    pending: queue.SimpleQueue = queue.SimpleQueue()
    for index, job in enumerate(jobs):
        pending.put((index, job))
    attempts = [Attempt() for _ in jobs]
    barrier = threading.Barrier(workers)
    # Why a worker could not start (say, PostgreSQL's max_connections was reached by other
    # test runs); the other workers are then released at once instead of waiting it out.
    start_errors: list[BaseException] = []

    def work() -> None:
        try:
            try:
                connection.ensure_connection()
            except Exception as error:
                start_errors.append(error)
                barrier.abort()
                return
            try:
                barrier.wait(timeout=60)
            except threading.BrokenBarrierError:
                return
            while True:
                try:
                    index, job = pending.get_nowait()
                except queue.Empty:
                    return
                try:
                    attempts[index].result = job()
                except Exception as error:
                    attempts[index].error = error
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads), "a worker thread hung"
    assert start_errors == [], f"workers could not open a connection: {start_errors[:1]}"
    assert not barrier.broken, "the workers never all reached the starting line"
    return attempts
