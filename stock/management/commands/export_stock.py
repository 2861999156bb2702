from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from stock.csv_io import export_csv_chunks
from stock.models import StockLevel
from warehouses.models import Warehouse


class Command(BaseCommand):
    help = "Write every stock level as CSV (the admin export's columns) to a file or stdout."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", type=Path, help="File to write; default: stdout.")
        parser.add_argument(
            "--warehouse",
            action="append",
            default=[],
            metavar="CODE",
            help="Only this warehouse; repeat for several.",
        )

    def handle(self, *args, output: Path | None, warehouse: list[str], **options) -> None:
        queryset = StockLevel.objects.all()
        if warehouse:
            known = set(Warehouse.objects.filter(code__in=warehouse).values_list("code", flat=True))
            unknown = sorted(set(warehouse) - known)
            if unknown:
                raise CommandError(f"Unknown warehouse(s): {', '.join(unknown)}.")
            queryset = queryset.filter(warehouse__code__in=warehouse)
        if output is None:
            for chunk in export_csv_chunks(queryset):
                self.stdout.write(chunk, ending="")
            return
        with output.open("w", encoding="utf-8", newline="") as target:
            for chunk in export_csv_chunks(queryset):
                target.write(chunk)
        self.stderr.write(f"Wrote {output}.")
