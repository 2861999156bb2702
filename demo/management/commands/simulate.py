"""`manage.py simulate`: the demo's traffic (demo.simulation) until Ctrl-C or --duration."""

import threading

from django.core.management.base import BaseCommand, CommandError

from demo.simulation import DEMO_CHANNELS, Simulator


class Command(BaseCommand):
    help = (
        "Keep placing, paying, shipping and cancelling orders and receiving stock on the demo "
        "channels, through the services, until Ctrl-C or --duration."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--rate", type=float, default=2.0, help="Actions per second (default 2)."
        )
        parser.add_argument(
            "--duration", type=float, default=None, help="Stop after this many seconds."
        )
        parser.add_argument("--seed", type=int, default=None, help="Repeatable randomness.")

    def handle(self, *args, rate: float, duration: float | None, seed: int | None, **options):
        if not 0 < rate <= 1000:
            raise CommandError("--rate must be above 0 and at most 1000 actions per second.")
        if duration is not None and duration <= 0:
            raise CommandError("--duration must be a positive number of seconds.")
        simulator = Simulator(rate=rate, seed=seed, log=self.stdout.write)
        stop = threading.Event()
        self.stdout.write(
            f"Simulating {rate:g} actions/s on {', '.join(DEMO_CHANNELS)}"
            + (f" for {duration:g} s" if duration else "; Ctrl-C stops")
            + "."
        )
        try:
            tally = simulator.run(stop=stop, duration=duration)
        except KeyboardInterrupt:
            stop.set()
            tally = simulator.tally
            self.stdout.write("Interrupted.")
        self.stdout.write(f"Done: {tally.line()}.")
