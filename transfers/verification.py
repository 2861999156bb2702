"""Every transfer line checked against its receipts and its own ledger movements.

Registered with `stock.selectors.register_ledger_check` in `TransfersConfig.ready()`, so
`manage.py verify_ledger` runs it beside the balances. A line's counters are written by
the same transactions as its movements (docs/adr/0010-transfers-stock-model.md), so a
difference means a write that bypassed the services.

What a line's movements (source `transfer`, the transfer's document) must sum to, for a
line of `q` units from S to D, from its counters and its receipts ("kept": rejected units
kept as unsellable; "returns": receipts back at the source):

- at S: on hand = returns accepted + returns kept - shipped; reserved = q while approved
  or picked, else 0; unsellable = returns kept; inbound = returning.
- at D: on hand = accepted + kept; reserved = 0; unsellable = kept; inbound = in transit.
"""

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import Sum

from stock.models import MovementSource, StockMovement
from stock.selectors import LedgerProblem
from transfers.holds import HOLDING_STATES
from transfers.models import (
    RejectedDisposition,
    Transfer,
    TransferLine,
    TransferReceiptLine,
)

CHECK = "transfers"
QUANTITIES = ("on_hand", "reserved", "unsellable", "inbound")


@dataclass(frozen=True, slots=True)
class Received:
    """One line's receipts at one end: units accepted, rejected, and rejected but kept."""

    accepted: int = 0
    rejected: int = 0
    kept: int = 0


def transfer_line_problems() -> list[LedgerProblem]:
    """Per line: the identity, counters against receipts, and movements against counters.

    Four queries, whatever the number of transfers (one more per group of transfers that
    share a document, which only transfers of different source systems can).
    """
    sums = _movement_sums()
    receipts = _receipt_sums()
    problems: list[LedgerProblem] = []
    lines = TransferLine.objects.select_related(
        "variant", "transfer__source", "transfer__destination"
    ).order_by("transfer_id", "pk")
    for line in lines.iterator(chunk_size=2000):
        problems.extend(_line_problems(line, sums, receipts))
    return problems


def _line_problems(
    line: TransferLine,
    sums: dict[tuple[int, int, int], dict[str, int]],
    receipts: dict[tuple[int, bool], Received],
) -> Iterator[LedgerProblem]:
    transfer = line.transfer
    subject = f"transfer {transfer.reference} line {line.pk} ({line.variant.sku})"

    def problem(message: str) -> LedgerProblem:
        return LedgerProblem(check=CHECK, subject=subject, message=message)

    if line.in_transit < 0 or line.returning < 0:
        yield problem(
            f"identity broken: shipped {line.shipped} + over-received {line.over_received} "
            f"!= accepted {line.accepted} + rejected {line.rejected} + lost {line.lost} "
            f"+ returned {line.returned} with none in transit, {line.return_received} of "
            "the returned received back"
        )
    if line.shipped not in (0, line.quantity):
        yield problem(f"shipped {line.shipped} of a line of {line.quantity}")
    at_destination = receipts.get((line.pk, False), Received())
    at_source = receipts.get((line.pk, True), Received())
    for name, counted, receipted in (
        ("accepted", line.accepted, at_destination.accepted),
        ("rejected", line.rejected, at_destination.rejected),
        ("return_received", line.return_received, at_source.accepted + at_source.rejected),
    ):
        if counted != receipted:
            yield problem(f"{name} {counted} but its receipts say {receipted}")
    expected = {
        transfer.source: {
            "on_hand": -line.shipped + at_source.accepted + at_source.kept,
            "reserved": line.quantity if transfer.state in HOLDING_STATES else 0,
            "unsellable": at_source.kept,
            "inbound": line.returning,
        },
        transfer.destination: {
            "on_hand": at_destination.accepted + at_destination.kept,
            "reserved": 0,
            "unsellable": at_destination.kept,
            "inbound": line.in_transit,
        },
    }
    for warehouse, quantities in expected.items():
        moved = sums.get((transfer.pk, line.variant_id, warehouse.pk), {})
        for name, value in quantities.items():
            if moved.get(name, 0) != value:
                yield problem(
                    f"{name} at {warehouse.code}: its movements sum to {moved.get(name, 0)}, "
                    f"the line says {value}"
                )


def _movement_sums() -> dict[tuple[int, int, int], dict[str, int]]:
    """Per (transfer, variant, warehouse), the deltas of the transfer's own movements."""
    transfers_by_document: dict[str, list[int]] = defaultdict(list)
    # A transfer's document is its reference (`Transfer.document`).
    for pk, document in Transfer.objects.values_list("pk", "reference").iterator():
        transfers_by_document[document].append(pk)
    movements = StockMovement.objects.filter(source=MovementSource.TRANSFER)
    deltas = {name: Sum(f"delta_{name}") for name in QUANTITIES}
    sums: dict[tuple[int, int, int], dict[str, int]] = {}
    rows = movements.values("document", "variant_id", "warehouse_id").annotate(**deltas)
    for row in rows.order_by().iterator():
        owners = transfers_by_document.get(row["document"], [])
        if len(owners) == 1:
            sums[owners[0], row["variant_id"], row["warehouse_id"]] = row
    shared = [owners for owners in transfers_by_document.values() if len(owners) > 1]
    for owners in shared:
        for pk in owners:
            # Every movement reference of a transfer starts so (TRANSFER_REFERENCE).
            own = movements.filter(reference__startswith=f"transfer:{pk}:")
            for row in own.values("variant_id", "warehouse_id").annotate(**deltas).order_by():
                sums[pk, row["variant_id"], row["warehouse_id"]] = row
    return sums


def _receipt_sums() -> dict[tuple[int, bool], Received]:
    """Per (line, received back at the source?), what its receipts accepted and rejected."""
    totals: dict[tuple[int, bool], Received] = {}
    rows = (
        TransferReceiptLine.objects.values("line_id", "receipt__is_return", "rejected_disposition")
        .annotate(accepted=Sum("accepted"), rejected=Sum("rejected"))
        .order_by()
    )
    for row in rows.iterator():
        key = (row["line_id"], row["receipt__is_return"])
        before = totals.get(key, Received())
        is_kept = row["rejected_disposition"] == RejectedDisposition.UNSELLABLE
        totals[key] = Received(
            accepted=before.accepted + row["accepted"],
            rejected=before.rejected + row["rejected"],
            kept=before.kept + (row["rejected"] if is_kept else 0),
        )
    return totals
