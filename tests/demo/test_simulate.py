"""`manage.py simulate`: demo traffic through the services, stopping when told."""

import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from io import StringIO

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from websockets.sync.client import connect as websocket_connect

from demo.simulation import REFERENCE_PREFIX, Simulator, SimulatorThread
from inventory_hub.management.commands.runhub import Command as RunHub
from stock.models import MovementSource, Order, OrderStatus, StockMovement
from tests.browser_support import database_url
from tests.inventory_hub.hub_process import REPO, free_port, hub_env
from tests.stock.factories import VariantFactory, channel_selling_from, stocked
from tests.warehouses.factories import WarehouseFactory
from warehouses.access import Role

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


def simulated_orders() -> int:
    return Order.objects.filter(reference__startswith=REFERENCE_PREFIX).count()


def test_simulator_thread_runs_beside_the_hub_until_stopped(demo_shop):
    simulation = SimulatorThread(rate=20)
    simulation.start()
    deadline = time.monotonic() + 20
    while simulated_orders() == 0 and time.monotonic() < deadline:
        time.sleep(0.1)

    simulation.stop()
    placed = simulated_orders()
    time.sleep(0.5)

    assert placed > 0
    assert simulated_orders() == placed
    assert simulation.failure() is None


def test_simulator_thread_says_why_it_stopped():
    simulation = SimulatorThread(rate=5)
    simulation.start()
    deadline = time.monotonic() + 10
    while simulation.failure() is None and time.monotonic() < deadline:
        time.sleep(0.05)

    failure = simulation.failure()
    simulation.stop()

    assert failure is not None and "run `manage.py load_demo`" in failure


def test_runhub_takes_an_optional_simulation_rate():
    parser = RunHub().create_parser("manage.py", "runhub")

    assert parser.parse_args([]).simulate is None
    assert parser.parse_args(["--simulate"]).simulate == 2.0
    assert parser.parse_args(["--simulate", "7.5"]).simulate == 7.5


@pytest.mark.postgres
def test_runhub_with_simulate_pushes_the_simulated_orders_to_an_open_page(
    demo_shop, tmp_path, verify_ledger_clean
):
    """`SIMULATE=1 make run`: the simulation runs inside the hub, so without Redis its
    changes reach the hub's in-memory channel layer and the pages' sockets."""
    user = get_user_model().objects.create_user(username="watcher", password="unused")
    user.groups.add(Group.objects.get_or_create(name=Role.OPS_STAFF.value)[0])
    browser = Client()
    browser.force_login(user)
    port = free_port()
    env = hub_env(
        DATABASE_URL=database_url(connection.settings_dict),
        SECRET_KEY=settings.SECRET_KEY,
        LOG_LEVEL="WARNING",
    )
    log_path = tmp_path / "hub.log"
    with log_path.open("wb") as log:
        hub = subprocess.Popen(
            [sys.executable, "manage.py", "runhub", "--port", str(port), "--simulate", "10"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_serving(hub, port, log_path)
        with websocket_connect(
            f"ws://127.0.0.1:{port}/ws/live/orders/",
            additional_headers={
                "Cookie": f"sessionid={browser.cookies['sessionid'].value}",
                "Origin": f"http://127.0.0.1:{port}",
            },
            open_timeout=10,
        ) as socket:
            push = socket.recv(timeout=30)

        hub.send_signal(signal.SIGTERM)
        exit_code = hub.wait(30)
    finally:
        if hub.poll() is None:
            hub.kill()
            hub.wait()

    assert '<div id="live-region"' in push and "hx-swap-oob" in push
    assert f"/{REFERENCE_PREFIX}" in push, push[:2000]
    assert exit_code == 0, log_path.read_text()
    assert simulated_orders() > 0
    verify_ledger_clean()


def wait_until_serving(hub: subprocess.Popen, port: int, log_path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert hub.poll() is None, log_path.read_text()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    raise AssertionError(f"runhub did not serve within 60 s:\n{log_path.read_text()}")
