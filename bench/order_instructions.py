"""Instructions one client process executes per order, counted by callgrind.

On a shared 2-vCPU machine the same code's CPU time per order moves by half between runs
minutes apart; instructions counted by valgrind move by a few per cent (how the
publisher thread's rounds fall still depends on timing). This places orders through
`place_order` in a child process under `valgrind --tool=callgrind`, once with `--small`
and once with `--large` orders, on the channel and SKUs that bench.reservations seeds, and
prints the difference per order: the client's work, its publisher thread included, not
the database server's. Start-up and warm-up cancel out in the difference.

    make bench-order-instructions      # or: .venv/bin/python -m bench.order_instructions
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from bench import reservations
from bench.common import configure_django, machine_description, seeded_random

COLLECTED = re.compile(r"Collected : (\d+)")


def main() -> int:
    arguments = parse_arguments()
    if arguments.place is not None:
        place(arguments)
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt-get install valgrind)", file=sys.stderr)
        return 1
    settings = reservations.Settings(
        database=arguments.database,
        duration=0,
        warmup=0,
        workers=(1,),
        sku_count=arguments.skus,
        warehouse_count=arguments.warehouses,
        source_selection=arguments.source_selection,
        sell_out_stock=1,
        sell_out_workers=1,
        profile=False,
    )
    channel_code, _, _ = reservations.prepare(settings)
    print("\n".join(machine_description()))
    counts = {
        orders: instructions(arguments, channel_code, orders)
        for orders in (arguments.small, arguments.large)
    }
    per_order = (counts[arguments.large] - counts[arguments.small]) / (
        arguments.large - arguments.small
    )
    print(
        f"{arguments.warehouses} warehouse(s), sourcing by {arguments.source_selection}, "
        f"{arguments.skus:,} SKUs: {counts[arguments.small]:,} instructions for "
        f"{arguments.small} orders, {counts[arguments.large]:,} for {arguments.large}"
    )
    print(f"client instructions per order: {per_order:,.0f}")
    return 0


def instructions(arguments: argparse.Namespace, channel_code: str, orders: int) -> int:
    """Instructions of a child process that starts Django and places `orders` orders."""
    with tempfile.TemporaryDirectory() as directory:
        command = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={os.path.join(directory, 'callgrind.out')}",
            sys.executable,
            "-m",
            "bench.order_instructions",
            "--database",
            arguments.database,
            "--skus",
            str(arguments.skus),
            "--channel",
            channel_code,
            "--place",
            str(orders),
            *(["--round-per-order"] if arguments.round_per_order else []),
        ]
        finished = subprocess.run(command, capture_output=True, text=True, check=False)
    found = COLLECTED.search(finished.stderr)
    if finished.returncode or found is None:
        raise RuntimeError(f"the child under valgrind failed:\n{finished.stderr[-2000:]}")
    return int(found.group(1))


def place(arguments: argparse.Namespace) -> None:
    """In the child: place `--place` one-line orders of 1 unit, random SKUs, one by one."""
    configure_django(arguments.database)
    import django

    django.setup()
    from stock.actors import Actor
    from stock.events import flush_publications
    from stock.services.orders import OrderLineInput, place_order
    from warehouses.models import SalesChannel

    channel = SalesChannel.objects.get(code=arguments.channel)
    skus = [f"SKU-{number:05d}" for number in range(arguments.skus)]
    actor = Actor.system("benchmark")
    choose = seeded_random("instructions").choice
    run = f"instructions/{time.time_ns()}"
    for number in range(arguments.place):
        place_order(
            channel=channel,
            reference=f"{run}/{number}",
            lines=[OrderLineInput(sku=choose(skus), quantity=1)],
            actor=actor,
        )
        if arguments.round_per_order:
            flush_publications()
    flush_publications()


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    reservations.add_catalogue_arguments(parser)
    parser.add_argument(
        "--round-per-order",
        action="store_true",
        help="wait for each order's reactions before the next: every order is then a "
        "publisher round of its own, as at 32 workers, and the count repeats within about "
        "1.5 %%, but it includes the waits",
    )
    parser.add_argument("--small", type=int, default=200, help="orders of the shorter run")
    parser.add_argument("--large", type=int, default=600, help="orders of the longer run")
    # The child's arguments.
    parser.add_argument("--channel", help=argparse.SUPPRESS)
    parser.add_argument("--place", type=int, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.place is None and not 0 < arguments.small < arguments.large:
        parser.error("--small must be positive and less than --large")
    return arguments


if __name__ == "__main__":
    sys.exit(main())
