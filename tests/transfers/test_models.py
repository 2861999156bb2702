import pytest
from django.db import IntegrityError, transaction

from tests.stock.factories import VariantFactory
from tests.warehouses.factories import WarehouseFactory
from transfers.models import TransferLine

from .factories import LaneFactory, draft

pytestmark = pytest.mark.django_db


def test_a_line_cannot_account_for_more_than_was_shipped():
    transfer = draft(WarehouseFactory(), WarehouseFactory(), (VariantFactory(), 4))

    with pytest.raises(IntegrityError), transaction.atomic():
        TransferLine.objects.filter(transfer=transfer).update(shipped=2, accepted=3)

    assert list(transfer.lines.values_list("shipped", "accepted")) == [(0, 0)]


def test_a_lane_cannot_lead_back_to_its_source():
    warehouse = WarehouseFactory()

    with pytest.raises(IntegrityError), transaction.atomic():
        LaneFactory(source=warehouse, destination=warehouse)
