import time

from django.core.management.base import BaseCommand

from stock.demo import load_demo


class Command(BaseCommand):
    help = (
        "Load the demo linens business: warehouses, channels, 200+ variants and 90 days of "
        "stock history. Safe to run again: a second run changes nothing."
    )

    def handle(self, *args, **options) -> None:
        started = time.perf_counter()
        summary = load_demo(log=self.stdout.write)
        elapsed = time.perf_counter() - started
        self.stdout.write(
            f"Demo catalogue: {summary.warehouses_created} warehouses, "
            f"{summary.channels_created} channels ({summary.links_created} warehouse links), "
            f"{summary.products_created} products, {summary.variants_created} variants created."
        )
        if summary.history_loaded:
            self.stdout.write(
                f"Demo history: {summary.movements_written} movements over "
                f"{summary.history_days} days across {summary.levels_stocked} stock levels; "
                f"{summary.snapshots_written} daily snapshots."
            )
        self.stdout.write(self.style.SUCCESS(f"Demo data ready in {elapsed:.1f} s."))
