"""What the alerts' reaction costs a writer, measured directly: the CPU of
`alerts.reactions.evaluate_touched_levels` per commit with active stock rules published
and with none, and the CPU of one flush of the batch (its `evaluate_task` message).

`bench.alerts` measures whole orders with 1,000 rules and without; on a shared machine
their cells spread by ten per cent and more, far above what the reaction can cost. This
isolates it. The reaction runs after commit on stock's publisher thread; each process
sends at most one message per debounce interval (300 ms), so per order the flush costs
its CPU divided by the orders a process places in that interval.

    .venv/bin/python -m bench.alerts_reactions [--calls 200000] [--orders-per-second 500]

No database is touched: the rules are published to the in-memory cache, as the rule
services publish them, and the message goes to the in-memory broker, as under `make run`.
"""

import argparse
import os
import time

import django


def cpu_per_call(call, calls: int) -> float:
    """CPU microseconds per call (every thread of the process: the timers too)."""
    started = time.process_time()
    for _ in range(calls):
        call()
    return (time.process_time() - started) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--flushes", type=int, default=2_000)
    parser.add_argument(
        "--orders-per-second",
        type=float,
        default=500,
        help="orders one process places per second (bench.alerts: 2,000/s over 4 workers)",
    )
    options = parser.parse_args()
    os.environ["DJANGO_SETTINGS_MODULE"] = "inventory_hub.settings.local"
    os.environ.pop("REDIS_URL", None)
    django.setup()
    from alerts.models import Condition, Rule
    from alerts.reactions import batch, debounce_seconds, evaluate_touched_levels
    from alerts.selectors import publish_active_conditions
    from stock.events import StockChanged

    changes = [StockChanged(level_id=42, variant_id=7, warehouse_id=1, version=3)]

    def react() -> None:
        evaluate_touched_levels(changes)

    publish_active_conditions([])
    without = cpu_per_call(react, options.calls)
    publish_active_conditions([Rule(condition=c) for c in Condition.values])
    with_rules = cpu_per_call(react, options.calls)
    batch.discard()

    def one_flush() -> None:
        batch.add(level_ids=[42])  # the first of a burst starts the timer
        batch.flush()  # what the timer does 300 ms later: one evaluate_task message

    flush = cpu_per_call(one_flush, options.flushes)
    per_interval = options.orders_per_second * debounce_seconds()
    per_order = with_rules - without + flush / per_interval
    print(
        f"evaluate_touched_levels per commit: {without:.2f} µs with no rule, "
        f"{with_rules:.2f} µs with rules\n"
        f"one flush (timer started, evaluate_task sent to the memory broker): {flush:.0f} µs, "
        f"once per {debounce_seconds() * 1000:.0f} ms per process, i.e. per "
        f"{per_interval:.0f} orders at {options.orders_per_second:g} orders/s\n"
        f"the rules cost a writer {per_order:.1f} µs of CPU per order"
    )


if __name__ == "__main__":
    main()
