import factory
from django.db.models import Sum

from stock.models import MovementSource, StockMovement
from tests.stock.factories import SYSTEM
from tests.warehouses.factories import WarehouseFactory
from transfers.models import Lane, Transfer
from transfers.services import TransferLineInput, create_transfer


class LaneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lane

    source = factory.SubFactory(WarehouseFactory)
    destination = factory.SubFactory(WarehouseFactory)
    lead_time_days = 3


def draft(source, destination, *lines, reference: str = "T-1") -> Transfer:
    """A draft transfer of (variant, quantity) lines, through the service."""
    return create_transfer(
        source=source,
        destination=destination,
        lines=[
            TransferLineInput(variant=variant, quantity=quantity) for variant, quantity in lines
        ],
        reference=reference,
        actor=SYSTEM,
    )


def transfer_movements(transfer: Transfer) -> list[StockMovement]:
    """The ledger rows of this transfer, oldest first."""
    return list(
        StockMovement.objects.filter(
            source=MovementSource.TRANSFER, document=transfer.document
        ).order_by("pk")
    )


def assert_identity(transfer: Transfer) -> None:
    """Per line: shipped + over-received = in transit + accepted + rejected + lost + returned,
    and returned = returning + return received, with in transit equal to the inbound this
    transfer's movements left at the destination and returning equal to the inbound they
    left at the source."""
    for line in transfer.lines.all():
        assert line.shipped + line.over_received == (
            line.in_transit + line.accepted + line.rejected + line.lost + line.returned
        )
        assert line.returned == line.returning + line.return_received
        assert line.in_transit >= 0
        assert line.returning >= 0
        movements = StockMovement.objects.filter(
            source=MovementSource.TRANSFER, document=transfer.document, variant=line.variant
        )
        at_destination = movements.filter(warehouse=transfer.destination).aggregate(
            total=Sum("delta_inbound")
        )["total"]
        at_source = movements.filter(warehouse=transfer.source).aggregate(
            total=Sum("delta_inbound")
        )["total"]
        assert (at_destination or 0) == line.in_transit
        assert (at_source or 0) == line.returning
