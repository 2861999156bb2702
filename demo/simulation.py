"""Demo activity through the services, so a running hub looks alive (`manage.py simulate`).

Places, pays, ships and cancels orders on the demo channels and receives stock where it
runs low, at a chosen rate, until Ctrl-C or `--duration`. Every change goes through the
same services as the API, so the ledger, the events and the live pages see real changes.

Without REDIS_URL the channel layer lives inside one process: run the simulation inside
the hub (`runhub --simulate`, which `SIMULATE=1 make run` uses) for the pages to see it.
"""

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.core.management.base import CommandError
from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone

from stock.actors import Actor
from stock.errors import StockError
from stock.models import MovementSource, Order, OrderStatus, ReasonCode, StockLevel
from stock.selectors import levels_below_threshold
from stock.services import receive_stock
from stock.services.orders import (
    OrderLineInput,
    cancel_order,
    pay_order,
    place_order,
    ship_order,
)
from warehouses.models import SalesChannel

logger = logging.getLogger(__name__)

DEMO_CHANNELS = ("north-america", "europe")
ACTIONS = ("place", "pay", "ship", "cancel", "receive")
# Roughly a shop's day: most orders are placed, paid and shipped; a few are cancelled or
# left to expire; a receipt now and then keeps the shelves from running dry.
WEIGHTS = (40, 25, 20, 5, 10)
REFERENCE_PREFIX = "SIM-"
# Short holds, so that some unpaid orders expire while one watches.
HOLD_MINUTES = (2, 10)
RECEIPT_QUANTITY = (12, 60)
# How many sellable SKUs to remember per channel, re-read now and then.
CATALOGUE_SAMPLE = 400
CATALOGUE_REFRESH_SECONDS = 30.0
REPORT_EVERY_SECONDS = 10.0


class NothingToDo(Exception):
    """The action has nothing to act on right now (no stock to sell, nothing running low)."""


@dataclass
class Tally:
    done: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ACTIONS, 0))
    refused: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ACTIONS, 0))

    def line(self) -> str:
        return ", ".join(
            f"{action} {self.done[action]}"
            + (f" ({self.refused[action]} refused)" if self.refused[action] else "")
            for action in ACTIONS
        )


class Simulator:
    """One shop's worth of traffic. `run` returns when `stop` is set or the time is up.

    Safe to run in a thread of another process (the hub): it uses its own database
    connection and closes it when it returns.
    """

    def __init__(
        self,
        *,
        rate: float,
        seed: int | None = None,
        log: Callable[[str], None] = logger.info,
    ) -> None:
        self.rate = rate
        self.rng = random.Random(seed)
        self.log = log
        self.actor = Actor.system("simulate")
        self.tally = Tally()
        self.channels: list[SalesChannel] = []
        self.skus: dict[int, list[str]] = {}
        self.placed: list[int] = []
        self.paid: list[int] = []
        self._catalogue_read_at = -CATALOGUE_REFRESH_SECONDS

    def prepare(self) -> None:
        """Find the demo channels, and the simulation's open orders of an earlier run."""
        self.channels = list(
            SalesChannel.objects.filter(code__in=DEMO_CHANNELS, is_active=True).order_by("code")
        )
        if not self.channels:
            raise CommandError(
                f"No demo channel ({', '.join(DEMO_CHANNELS)}); run `manage.py load_demo`."
            )
        self._remember_open_orders()

    def run(self, *, stop: threading.Event, duration: float | None = None) -> Tally:
        try:
            self.prepare()
            started = time.monotonic()
            next_action = started
            next_report = started + REPORT_EVERY_SECONDS
            while not stop.is_set():
                now = time.monotonic()
                if duration is not None and now - started >= duration:
                    break
                if now < next_action:
                    stop.wait(next_action - now)
                    continue
                # Fixed ticks rather than sleeping after each action: a slow action does
                # not lower the rate, and a long stall does not cause a burst afterwards.
                next_action = max(next_action + 1 / self.rate, now)
                self.step()
                if now >= next_report:
                    self.log(f"simulate: {self.tally.line()}")
                    next_report = now + REPORT_EVERY_SECONDS
            return self.tally
        finally:
            connection.close()

    def step(self) -> None:
        """One action, chosen at random by weight; a refusal is counted, not raised."""
        action = self.rng.choices(ACTIONS, weights=WEIGHTS)[0]
        if action == "pay" and not self.placed:
            action = "place"
        if action in ("ship", "cancel") and not self.paid and not self.placed:
            action = "place"
        close_old_connections()
        try:
            getattr(self, f"_{action}")()
        except (StockError, NothingToDo) as error:
            # Refusals are part of the traffic (a hold that expired, stock that ran out).
            self.tally.refused[action] += 1
            logger.debug("simulate: %s refused: %s", action, error)
        except DatabaseError:
            # The database went away: say so once per attempt, and do not spin meanwhile.
            logger.exception("simulate: %s failed", action)
            connection.close()
            time.sleep(1)
        else:
            self.tally.done[action] += 1

    # --- Actions ----------------------------------------------------------------------------

    def _place(self) -> None:
        channel = self.rng.choice(self.channels)
        skus = self._sellable(channel)
        if not skus:
            raise NothingToDo(f"{channel.code} has nothing to sell")
        lines = [
            OrderLineInput(sku=sku, quantity=self.rng.choice((1, 1, 1, 2, 2, 3)))
            for sku in self.rng.sample(skus, k=min(len(skus), self.rng.choice((1, 1, 2, 3))))
        ]
        placed = place_order(
            channel=channel,
            reference=f"{REFERENCE_PREFIX}{timezone.now():%Y%m%d%H%M%S%f}-{self.rng.randrange(1000)}",
            lines=lines,
            actor=self.actor,
            hold_minutes=self.rng.randint(*HOLD_MINUTES),
        )
        self.placed.append(placed.order.pk)

    def _pay(self) -> None:
        order = self._take(self.placed)
        pay_order(order=order, actor=self.actor)
        self.paid.append(order.pk)

    def _ship(self) -> None:
        pool = self.paid if self.paid else self.placed
        ship_order(order=self._take(pool), actor=self.actor)

    def _cancel(self) -> None:
        # Mostly unpaid orders; now and then a paid one (a refund before shipping).
        pool = (
            self.placed if self.placed and (not self.paid or self.rng.random() < 0.7) else self.paid
        )
        cancel_order(order=self._take(pool), actor=self.actor)

    def _receive(self) -> None:
        channel = self.rng.choice(self.channels)
        running_low = list(
            levels_below_threshold(
                StockLevel.objects.filter(
                    warehouse__links__channel=channel,
                    warehouse__is_active=True,
                    variant__is_active=True,
                    variant__manage_stock=True,
                )
            )
            .select_related("variant", "warehouse")
            .order_by("available", "pk")[:20]
        )
        if not running_low:
            raise NothingToDo(f"nothing runs low on {channel.code}")
        level = self.rng.choice(running_low)
        receive_stock(
            variant=level.variant,
            warehouse=level.warehouse,
            quantity=self.rng.randint(*RECEIPT_QUANTITY),
            reason=ReasonCode.PURCHASE_ORDER,
            note="simulated delivery",
            actor=self.actor,
            source=MovementSource.SYSTEM,
        )

    # --- Helpers --------------------------------------------------------------------------------

    def _take(self, pool: list[int]) -> Order:
        order_id = pool.pop(self.rng.randrange(len(pool)))
        return Order.objects.select_related("channel").get(pk=order_id)

    def _sellable(self, channel: SalesChannel) -> list[str]:
        now = time.monotonic()
        if now - self._catalogue_read_at >= CATALOGUE_REFRESH_SECONDS:
            self._catalogue_read_at = now
            for each in self.channels:
                skus = (
                    StockLevel.objects.filter(
                        warehouse__links__channel=each,
                        warehouse__is_active=True,
                        available__gt=3,
                        variant__is_active=True,
                        variant__manage_stock=True,
                    )
                    .values_list("variant__sku", flat=True)
                    .distinct()
                    .order_by("variant__sku")[:CATALOGUE_SAMPLE]
                )
                self.skus[each.pk] = list(skus)
        return self.skus.get(channel.pk, [])

    def _remember_open_orders(self) -> None:
        """Carry on with the simulation's own open orders from an earlier run."""
        recent = Order.objects.filter(
            reference__startswith=REFERENCE_PREFIX,
            channel__in=self.channels,
            placed_at__gte=timezone.now() - timedelta(days=1),
        )
        self.placed = list(
            recent.filter(status=OrderStatus.PLACED).values_list("pk", flat=True)[:500]
        )
        self.paid = list(recent.filter(status=OrderStatus.PAID).values_list("pk", flat=True)[:500])


class SimulatorThread:
    """The simulation in a daemon thread of the hub (`runhub --simulate`), started and
    stopped with it, so that its changes reach the hub's own (in-memory) channel layer."""

    def __init__(self, *, rate: float) -> None:
        self.description = f"demo activity at {rate:g} actions/s (manage.py simulate)"
        self._rate = rate
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="simulate", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            Simulator(rate=self._rate).run(stop=self._stop)
        except BaseException as exc:
            self._error = exc
            logger.exception("The demo simulation stopped.")

    def failure(self) -> str | None:
        """Why the simulation is gone when nobody asked it to stop, else None."""
        if self._error is not None:
            return f"the demo simulation failed: {self._error}"
        return None

    def stop(self, *, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
