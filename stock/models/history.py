from django.db import models

from .levels import StockLevel


class DailyStockSnapshot(models.Model):
    """A level's closing balances for one day, derived from the ledger.

    Charts read these instead of folding the ledger, so their cost does not grow with the
    number of movements; `manage.py rebuild_history` recomputes them from the ledger.
    """

    level = models.ForeignKey(StockLevel, on_delete=models.CASCADE, related_name="snapshots")
    day = models.DateField()
    on_hand = models.IntegerField()
    reserved = models.IntegerField()
    unsellable = models.IntegerField()
    safety_stock = models.IntegerField()
    inbound = models.IntegerField()

    class Meta:
        ordering = ["level", "day"]
        constraints = [
            models.UniqueConstraint(fields=["level", "day"], name="snapshot_level_day_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.level} {self.day}"

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved - self.unsellable - self.safety_stock
