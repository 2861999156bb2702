from django.core.management.base import BaseCommand, CommandError

from stock.selectors import ledger_differences


class Command(BaseCommand):
    help = "Recompute every balance from the ledger and print each difference (exit 1 if any)."

    def handle(self, *args, **options) -> None:
        differences = ledger_differences()
        for diff in differences:
            self.stdout.write(
                f"{diff.sku} @ {diff.warehouse_code} (level {diff.level_id}): {diff.quantity} "
                f"balance {diff.balance} != ledger {diff.ledger} "
                f"(off by {diff.balance - diff.ledger:+d})"
            )
        if differences:
            raise CommandError(f"{len(differences)} difference(s) between balances and ledger.")
        self.stdout.write(self.style.SUCCESS("Ledger and balances agree."))
