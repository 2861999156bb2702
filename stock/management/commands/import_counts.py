from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from stock.actors import Actor
from stock.csv_io import import_counts


class Command(BaseCommand):
    help = (
        "Apply a CSV of counts (sku,warehouse,counted[,reason,note]): every row or, if any "
        "row is wrong, none. Importing the same file again changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--user", help="Username recorded as the actor (default: the system actor)."
        )
        parser.add_argument(
            "--check", action="store_true", help="Only check the file; apply nothing."
        )

    def handle(self, *args, file: Path, user: str | None, check: bool, **options) -> None:
        try:
            data = file.read_bytes()
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror}.") from None
        report = import_counts(data, filename=file.name, actor=self._actor(user), check_only=check)
        for problem in report.errors:
            column = f" [{problem.column}]" if problem.column else ""
            self.stderr.write(f"{report.filename}:{problem.line}{column}: {problem.message}")
        if report.errors:
            raise CommandError(
                f"{len(report.errors)} problem(s) in {report.filename}; nothing was applied."
            )
        if report.checked_only:
            self.stdout.write(f"{report.rows} rows checked; nothing applied.")
            return
        self.stdout.write(
            f"{report.filename} (sha256 {report.sha256[:12]}): {report.rows} rows, "
            f"{report.applied} applied, {report.unchanged} unchanged, "
            f"{report.replayed} replayed, 0 errors."
        )

    def _actor(self, username: str | None) -> Actor:
        if username is None:
            return Actor.system("import_counts")
        try:
            return Actor.for_user(get_user_model().objects.get_by_natural_key(username))
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user {username!r}.") from None
