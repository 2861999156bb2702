"""`manage.py verify_ledger` checks every transfer line against its receipts and movements."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import F

from stock.selectors import ledger_report
from tests.stock.factories import SYSTEM, VariantFactory, stocked
from tests.warehouses.factories import WarehouseFactory
from transfers.models import TransferLine, TransferReceiptLine
from transfers.services import (
    BACK_TO_SOURCE,
    ReceiptLineInput,
    TransferLineInput,
    approve_transfer,
    cancel_transfer,
    create_transfer,
    receive_return,
    receive_transfer,
    ship_transfer,
)

from .factories import draft

pytestmark = pytest.mark.django_db


@pytest.fixture
def north():
    return WarehouseFactory(code="NORTH")


@pytest.fixture
def south():
    return WarehouseFactory(code="SOUTH")


@pytest.fixture
def variant(north):
    variant = VariantFactory(sku="SHEET-Q")
    stocked(variant, north, 20)
    return variant


def verify_ledger() -> str:
    out = StringIO()
    call_command("verify_ledger", stdout=out)
    return out.getvalue()


def failed_verification() -> tuple[list[str], str]:
    out = StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("verify_ledger", stdout=out)
    return out.getvalue().splitlines(), str(failed.value)


def received_part(north, south, variant, reference="T-1"):
    """Shipped 6, received 3 (one rejected as damaged and kept), 3 still in transit."""
    transfer = draft(north, south, (variant, 6), reference=reference)
    approve_transfer(transfer=transfer, actor=SYSTEM)
    ship_transfer(transfer=transfer, actor=SYSTEM)
    receive_transfer(
        transfer=transfer,
        receipt_reference=f"{reference}-R1",
        lines=[
            ReceiptLineInput(variant=variant, accepted=2, rejected=1, rejection_reason="damaged")
        ],
        actor=SYSTEM,
    )
    return transfer


def restore(line: TransferLine) -> None:
    """Put the counters back as the services left them, so the suite's own check passes."""
    TransferLine.objects.filter(pk=line.pk).update(
        **{name: getattr(line, name) for name in ("accepted", "lost", "returned")}
    )


def test_transfers_in_every_state_pass(north, south, variant):
    approve_transfer(transfer=draft(north, south, (variant, 2), reference="T-A"), actor=SYSTEM)
    received_part(north, south, variant, reference="T-B")
    returned = received_part(north, south, variant, reference="T-C")
    cancel_transfer(transfer=returned, actor=SYSTEM, disposition=BACK_TO_SOURCE)
    receive_return(
        transfer=returned,
        receipt_reference="back-1",
        lines=[
            ReceiptLineInput(
                variant=variant,
                accepted=1,
                rejected=1,
                rejection_reason="damaged",
                rejected_disposition="write_off",
            )
        ],
        actor=SYSTEM,
    )

    assert verify_ledger() == "Ledger and balances agree.\n"


def test_a_line_counter_changed_behind_the_services_back_is_reported(north, south, variant):
    transfer = received_part(north, south, variant)
    line = transfer.lines.get()
    TransferLine.objects.filter(pk=line.pk).update(accepted=F("accepted") + 1)

    printed, summary = failed_verification()

    subject = f"transfer T-1 line {line.pk} (SHEET-Q)"
    assert printed == [
        f"{subject}: accepted 3 but its receipts say 2",
        f"{subject}: inbound at SOUTH: its movements sum to 3, the line says 2",
    ]
    assert summary == "2 disagreement(s) between documents and the ledger."
    restore(line)


def test_a_lost_counter_without_its_write_off_is_reported(north, south, variant):
    transfer = received_part(north, south, variant)
    line = transfer.lines.get()
    TransferLine.objects.filter(pk=line.pk).update(lost=3)

    printed, _ = failed_verification()

    assert printed == [
        f"transfer T-1 line {line.pk} (SHEET-Q): inbound at SOUTH: its movements sum to 3, "
        "the line says 0"
    ]
    restore(line)


def test_a_return_counted_but_never_moved_is_reported_at_both_ends(north, south, variant):
    transfer = received_part(north, south, variant)
    line = transfer.lines.get()
    TransferLine.objects.filter(pk=line.pk).update(returned=2)

    printed, _ = failed_verification()

    subject = f"transfer T-1 line {line.pk} (SHEET-Q)"
    assert printed == [
        f"{subject}: inbound at NORTH: its movements sum to 0, the line says 2",
        f"{subject}: inbound at SOUTH: its movements sum to 3, the line says 1",
    ]
    restore(line)


def test_a_receipt_line_changed_behind_the_services_back_is_reported(north, south, variant):
    transfer = received_part(north, south, variant)
    line = transfer.lines.get()
    TransferReceiptLine.objects.filter(line=line).update(rejected_disposition="write_off")

    printed, _ = failed_verification()

    subject = f"transfer T-1 line {line.pk} (SHEET-Q)"
    assert printed == [
        f"{subject}: on_hand at SOUTH: its movements sum to 3, the line says 2",
        f"{subject}: unsellable at SOUTH: its movements sum to 1, the line says 0",
    ]
    TransferReceiptLine.objects.filter(line=line).update(rejected_disposition="unsellable")


def test_two_transfers_sharing_a_document_are_checked_apart(north, south, variant):
    # The same reference from two source systems: the same ledger document.
    for source_system in ("hub", "wms"):
        transfer = create_transfer(
            source=north,
            destination=south,
            lines=[TransferLineInput(variant=variant, quantity=3)],
            reference="T-SAME",
            source_system=source_system,
            actor=SYSTEM,
        )
        approve_transfer(transfer=transfer, actor=SYSTEM)
    ship_transfer(transfer=transfer, actor=SYSTEM)

    report = ledger_report()

    assert report.is_clean, [str(problem) for problem in report.problems]
