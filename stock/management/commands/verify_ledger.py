from django.core.management.base import BaseCommand, CommandError

from stock.selectors import ledger_report


class Command(BaseCommand):
    help = (
        "Recompute every balance from the ledger and run the checks other apps registered "
        "(each transfer line against its movements); print each difference (exit 1 if any)."
    )

    def handle(self, *args, **options) -> None:
        report = ledger_report()
        for diff in report.differences:
            self.stdout.write(
                f"{diff.sku} @ {diff.warehouse_code} (level {diff.level_id}): {diff.quantity} "
                f"balance {diff.balance} != ledger {diff.ledger} "
                f"(off by {diff.balance - diff.ledger:+d})"
            )
        for problem in report.problems:
            self.stdout.write(str(problem))
        failures = []
        if report.differences:
            failures.append(f"{len(report.differences)} difference(s) between balances and ledger")
        if report.problems:
            failures.append(
                f"{len(report.problems)} disagreement(s) between documents and the ledger"
            )
        if failures:
            raise CommandError("; ".join(failures) + ".")
        self.stdout.write(self.style.SUCCESS("Ledger and balances agree."))
