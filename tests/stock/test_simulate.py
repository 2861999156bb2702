"""`manage.py simulate`: demo traffic through the services, stopping when told."""

import threading
import time
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from stock.management.commands.simulate import REFERENCE_PREFIX, Simulator
from stock.models import MovementSource, Order, OrderStatus, StockMovement
from tests.stock.factories import VariantFactory, channel_selling_from, stocked
from tests.warehouses.factories import WarehouseFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def demo_shop():
    """The demo's two channels over three warehouses, with plenty of some SKUs, few of others."""
    baltimore, berlin, hq = (WarehouseFactory(code=code) for code in ("BAL", "BER", "HQ"))
    channel_selling_from(baltimore, hq, code="north-america", name="North America")
    channel_selling_from(berlin, hq, code="europe", name="Europe")
    for n in range(8):
        variant = VariantFactory(sku=f"SIM-SKU-{n}", low_stock_threshold=5)
        for warehouse in (baltimore, berlin, hq):
            stocked(variant, warehouse, 60 if n % 2 else 4)


def run_in_thread(simulator: Simulator, stop: threading.Event, **options) -> threading.Thread:
    """As `runhub --simulate` would: the simulator in a thread with its own connection."""
    thread = threading.Thread(target=simulator.run, kwargs={"stop": stop, **options})
    thread.start()
    return thread


def test_simulation_places_pays_ships_cancels_and_receives_through_the_services(
    demo_shop, verify_ledger_clean
):
    simulator = Simulator(rate=1, seed=7)
    simulator.prepare()

    for _ in range(120):
        simulator.step()

    done = simulator.tally.done
    assert all(done[action] > 0 for action in done), simulator.tally
    orders = Order.objects.filter(reference__startswith=REFERENCE_PREFIX)
    assert orders.count() == done["place"]
    assert orders.filter(status=OrderStatus.SHIPPED).exists()
    assert orders.filter(status=OrderStatus.CANCELLED).exists()
    movements = StockMovement.objects.filter(actor_label="simulate")
    assert set(movements.values_list("source", flat=True)) == {
        MovementSource.ORDER,
        MovementSource.SYSTEM,
    }
    assert movements.filter(kind="receipt").count() == done["receive"]
    verify_ledger_clean()


def test_simulation_runs_at_its_rate_in_a_thread_until_its_duration(demo_shop):
    simulator = Simulator(rate=10, seed=5)
    started = time.monotonic()

    thread = run_in_thread(simulator, threading.Event(), duration=1.5)
    thread.join(timeout=30)

    assert not thread.is_alive()
    assert 1.5 <= time.monotonic() - started < 10
    actions = sum(simulator.tally.done.values()) + sum(simulator.tally.refused.values())
    assert 1 <= actions <= 16  # ten a second, plus the one at the start


def test_simulation_stops_promptly_when_asked(demo_shop):
    stop = threading.Event()
    thread = run_in_thread(Simulator(rate=5, seed=1), stop)
    time.sleep(0.5)

    stop.set()
    thread.join(timeout=5)

    assert not thread.is_alive()


def test_simulate_command_runs_for_its_duration_and_reports(demo_shop):
    output = StringIO()

    call_command("simulate", rate=20, duration=1, seed=3, stdout=output)

    lines = output.getvalue().splitlines()
    assert lines[0] == "Simulating 20 actions/s on north-america, europe for 1 s."
    assert lines[-1].startswith("Done: place ")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"rate": 0}, "--rate must be above 0 and at most 1000 actions per second."),
        ({"rate": 5, "duration": -1}, "--duration must be a positive number of seconds."),
    ],
)
def test_simulate_command_refuses_bad_options(options, message):
    with pytest.raises(CommandError) as refused:
        call_command("simulate", **options)

    assert str(refused.value) == message


def test_simulate_without_the_demo_channels_says_to_load_the_demo():
    with pytest.raises(CommandError) as refused:
        call_command("simulate", rate=5, duration=1)

    assert "run `manage.py load_demo`" in str(refused.value)
