from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from stock.services.history import rebuild_snapshots, utc_today


class Command(BaseCommand):
    help = (
        "Recompute the daily stock snapshots that charts read, from the ledger "
        "(the last --days days, or every day since each level's first movement with --all)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, default=90, help="Days to rebuild, ending today.")
        parser.add_argument(
            "--all",
            dest="rebuild_all",
            action="store_true",
            help="Rebuild from each level's first movement.",
        )

    def handle(self, *args, days: int, rebuild_all: bool, **options) -> None:
        if rebuild_all:
            since = None
        elif days < 1:
            raise CommandError("--days must be at least 1.")
        else:
            since = utc_today() - timedelta(days=days - 1)
        computed = rebuild_snapshots(since=since)
        scope = "every day" if since is None else f"since {since.isoformat()}"
        self.stdout.write(self.style.SUCCESS(f"Rebuilt {computed} daily snapshots ({scope})."))
