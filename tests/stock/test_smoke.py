import pytest

from stock.errors import InsufficientStock
from stock.models import StockMovement
from stock.services import adjust_stock
from tests.stock.factories import SYSTEM, VariantFactory, stocked
from tests.warehouses.factories import WarehouseFactory

pytestmark = pytest.mark.django_db


def test_receipt_then_refused_adjustment(verify_ledger_clean):
    variant, warehouse = VariantFactory(), WarehouseFactory()
    level = stocked(variant, warehouse, 10)

    with pytest.raises(InsufficientStock):
        adjust_stock(variant=variant, warehouse=warehouse, delta=-11, reason="lost", actor=SYSTEM)

    level.refresh_from_db()
    assert (level.on_hand, level.available, level.version) == (10, 10, 1)
    assert StockMovement.objects.count() == 1
    verify_ledger_clean()
