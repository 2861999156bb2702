"""Random transfers, receipts, returns and cancellations interleaved with orders on the same
SKUs, on real PostgreSQL; after every step what `manage.py verify_ledger` checks holds.

`make test` runs a short deterministic pass (TRANSFER_MACHINE_EXAMPLES, default 25 runs of
up to 30 steps); set TRANSFER_MACHINE_EXAMPLES higher for fresh randomness and more runs.
Each run is rolled back to a savepoint, so runs do not see each other's rows.
"""

import os
from itertools import count

import pytest
from django.db import transaction
from django.db.models import F, Q, Sum
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from stock.errors import InsufficientStock, NotSellable
from stock.models import Allocation, BackorderPolicy, Order, OrderStatus, StockLevel
from stock.selectors import ledger_report
from stock.services import receive_stock
from stock.services.orders import OrderLineInput, cancel_order, place_order, ship_order
from tests.stock.factories import SYSTEM, VariantFactory, channel_selling_from, ledger_ids
from tests.warehouses.factories import WarehouseFactory
from transfers.errors import OverReceipt
from transfers.holds import held_for_transfers
from transfers.models import RejectedDisposition, RejectionReason, Transfer, TransferLine
from transfers.models import TransferState as State
from transfers.services import (
    BACK_TO_SOURCE,
    LOST,
    ReceiptLineInput,
    TransferLineInput,
    approve_transfer,
    cancel_transfer,
    close_transfer_short,
    create_transfer,
    pick_transfer,
    receive_return,
    receive_transfer,
    ship_transfer,
)

EXAMPLES = int(os.environ.get("TRANSFER_MACHINE_EXAMPLES", "25"))
IS_THOROUGH = "TRANSFER_MACHINE_EXAMPLES" in os.environ

SHIPPED = (State.SHIPPED, State.PARTIALLY_RECEIVED)
UNSHIPPED = (State.DRAFT, State.APPROVED, State.PICKED)
OPEN_ORDERS = (OrderStatus.PLACED, OrderStatus.PAID, OrderStatus.PARTIALLY_SHIPPED)
QUANTITIES = ("on_hand", "reserved", "unsellable", "inbound")

index = st.integers(min_value=0, max_value=10_000)
receipt_lines = st.tuples(
    st.integers(min_value=0, max_value=4),  # accepted
    st.integers(min_value=0, max_value=2),  # rejected
    st.sampled_from(RejectionReason.values),
    st.sampled_from(RejectedDisposition.values),
).filter(lambda entry: entry[0] + entry[1] > 0)


class TransfersAndOrders(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.savepoint = transaction.savepoint()
        self.numbers = count(1)
        self.states: dict[int, str] = {}
        self.returning: set[int] = set()
        self.open_orders: list[int] = []

    def teardown(self) -> None:
        transaction.savepoint_rollback(self.savepoint)

    @initialize(
        stock=st.lists(st.integers(min_value=4, max_value=15), min_size=9, max_size=9),
        with_backorders=st.booleans(),
    )
    def build(self, stock: list[int], with_backorders: bool) -> None:
        """Three warehouses, three SKUs (the last may allow backorders), one channel selling
        from all three, and stock of every SKU everywhere."""
        self.warehouses = [WarehouseFactory(code=code) for code in ("NORTH", "SOUTH", "EAST")]
        self.variants = [VariantFactory(sku=f"SKU-{n}") for n in range(3)]
        if with_backorders:
            self.variants[2].backorders = BackorderPolicy.ALLOW
            self.variants[2].save(update_fields=["backorders"])
        self.channel = channel_selling_from(*self.warehouses, code="web")
        for n, quantity in enumerate(stock):
            self._restock(n // 3, n % 3, quantity)

    # --- Stock and orders on the same SKUs -----------------------------------------------

    @rule(variant=st.integers(0, 2), warehouse=st.integers(0, 2), quantity=st.integers(1, 8))
    def restock(self, variant: int, warehouse: int, quantity: int) -> None:
        self._restock(variant, warehouse, quantity)

    @rule(
        lines=st.dictionaries(st.integers(0, 2), st.integers(1, 3), min_size=1, max_size=3),
    )
    def place(self, lines: dict[int, int]) -> None:
        before = ledger_ids()
        try:
            placed = place_order(
                channel=self.channel,
                reference=f"W-{next(self.numbers)}",
                lines=[
                    OrderLineInput(sku=self.variants[n].sku, quantity=quantity)
                    for n, quantity in lines.items()
                ],
                actor=SYSTEM,
            )
        except (InsufficientStock, NotSellable):
            event("order refused")
            assert ledger_ids() == before
            return
        event("order placed")
        self.open_orders.append(placed.order.pk)

    @precondition(lambda self: self.open_orders)
    @rule(choice=index, is_shipped=st.booleans())
    def close_order(self, choice: int, is_shipped: bool) -> None:
        order = Order.objects.get(pk=self.open_orders.pop(choice % len(self.open_orders)))
        if is_shipped:
            ship_order(order=order, actor=SYSTEM)
        else:
            cancel_order(order=order, actor=SYSTEM)

    # --- Transfers ----------------------------------------------------------------------

    @rule(
        source=st.integers(0, 2),
        offset=st.integers(1, 2),
        lines=st.dictionaries(st.integers(0, 2), st.integers(1, 4), min_size=1, max_size=2),
        then=st.sampled_from(["ship", "approve", "draft", "ship"]),
    )
    def create(self, source: int, offset: int, lines: dict[int, int], then: str) -> None:
        """A draft, or a transfer approved (and shipped) at once, so runs reach receipts."""
        transfer = create_transfer(
            source=self.warehouses[source],
            destination=self.warehouses[(source + offset) % 3],
            lines=[
                TransferLineInput(variant=self.variants[n], quantity=quantity)
                for n, quantity in lines.items()
            ],
            reference=f"T-{next(self.numbers)}",
            actor=SYSTEM,
        )
        if then != "draft" and self._approve(transfer) and then == "ship":
            ship_transfer(transfer=transfer, actor=SYSTEM)

    @precondition(lambda self: self._any(State.DRAFT))
    @rule(choice=index)
    def approve(self, choice: int) -> None:
        self._approve(self._one(choice, State.DRAFT))

    @precondition(lambda self: self._any(State.APPROVED))
    @rule(choice=index)
    def pick(self, choice: int) -> None:
        pick_transfer(transfer=self._one(choice, State.APPROVED), actor=SYSTEM)

    @precondition(lambda self: self._any(State.APPROVED, State.PICKED))
    @rule(choice=index)
    def ship(self, choice: int) -> None:
        ship_transfer(transfer=self._one(choice, State.APPROVED, State.PICKED), actor=SYSTEM)

    @precondition(lambda self: self._any(*SHIPPED))
    @rule(choice=index, line=index, entry=receipt_lines, over_receipt=st.booleans())
    def receive(self, choice: int, line: int, entry: tuple, over_receipt: bool) -> None:
        transfer = self._one(choice, *SHIPPED)
        received = self._line(transfer, line)
        accepted, rejected, reason, disposition = entry
        before = ledger_ids()
        try:
            receive_transfer(
                transfer=transfer,
                receipt_reference=f"R-{next(self.numbers)}",
                lines=[
                    ReceiptLineInput(
                        variant=received.variant,
                        accepted=accepted,
                        rejected=rejected,
                        rejection_reason=reason,
                        rejected_disposition=disposition,
                    )
                ],
                actor=SYSTEM,
                over_receipt=over_receipt,
            )
        except OverReceipt:
            event("receipt refused")
            assert not over_receipt and accepted + rejected > received.in_transit
            assert ledger_ids() == before
            return
        event("over-receipt" if accepted + rejected > received.in_transit else "receipt")

    @precondition(lambda self: self._any(*SHIPPED))
    @rule(choice=index)
    def close_short(self, choice: int) -> None:
        close_transfer_short(transfer=self._one(choice, *SHIPPED), actor=SYSTEM)

    @precondition(lambda self: self._any(*UNSHIPPED))
    @rule(choice=index)
    def cancel_before_shipping(self, choice: int) -> None:
        cancel_transfer(transfer=self._one(choice, *UNSHIPPED), actor=SYSTEM)

    @precondition(lambda self: self._any(*SHIPPED))
    @rule(choice=index, disposition=st.sampled_from([BACK_TO_SOURCE, LOST]))
    def cancel_after_shipping(self, choice: int, disposition: str) -> None:
        event(f"cancelled {disposition}")
        cancel_transfer(transfer=self._one(choice, *SHIPPED), actor=SYSTEM, disposition=disposition)

    @precondition(lambda self: self.returning)
    @rule(choice=index, entry=receipt_lines)
    def receive_back(self, choice: int, entry: tuple) -> None:
        transfer = Transfer.objects.get(pk=sorted(self.returning)[choice % len(self.returning)])
        line = transfer.lines.filter(returned__gt=F("return_received")).order_by("pk").first()
        accepted, rejected, reason, disposition = entry
        returning = line.returning
        before = ledger_ids()
        try:
            receive_return(
                transfer=transfer,
                receipt_reference=f"B-{next(self.numbers)}",
                lines=[
                    ReceiptLineInput(
                        variant=line.variant,
                        accepted=accepted,
                        rejected=rejected,
                        rejection_reason=reason,
                        rejected_disposition=disposition,
                    )
                ],
                actor=SYSTEM,
            )
        except OverReceipt:
            event("return receipt refused")
            assert accepted + rejected > returning
            assert ledger_ids() == before
            return
        event("return received")

    @precondition(lambda self: self.states)
    @rule(choice=index)
    def retry(self, choice: int) -> None:
        """A transition repeated (a retried request) writes nothing."""
        transfer = Transfer.objects.get(pk=sorted(self.states)[choice % len(self.states)])
        again = {
            State.APPROVED: approve_transfer,
            State.PICKED: pick_transfer,
            State.SHIPPED: ship_transfer,
            State.CLOSED_SHORT: close_transfer_short,
            State.CANCELLED: cancel_transfer,
        }.get(transfer.state)
        if again is None:
            return
        before = ledger_ids()
        event(f"retried {transfer.state}")

        again(transfer=transfer, actor=SYSTEM)

        assert ledger_ids() == before
        assert Transfer.objects.get(pk=transfer.pk).state == transfer.state

    # --- After every step ---------------------------------------------------------------

    @invariant()
    def ledger_and_every_line_agree(self) -> None:
        self.states = dict(Transfer.objects.values_list("pk", "state"))
        self.returning = set(
            TransferLine.objects.filter(
                returned__gt=F("return_received"), transfer__state=State.CANCELLED
            ).values_list("transfer_id", flat=True)
        )
        report = ledger_report()
        assert report.differences == []
        assert [str(problem) for problem in report.problems] == []

    @invariant()
    def the_identity_holds_per_line(self) -> None:
        for line in TransferLine.objects.all():
            assert line.shipped + line.over_received == (
                line.in_transit + line.accepted + line.rejected + line.lost + line.returned
            )
            assert line.returned == line.returning + line.return_received
            assert line.in_transit >= 0
            assert line.returning >= 0

    @invariant()
    def nothing_is_negative(self) -> None:
        negative = Q()
        for name in QUANTITIES:
            negative |= Q(**{f"{name}__lt": 0})
        assert not StockLevel.objects.filter(negative).exists()
        assert not StockLevel.objects.filter(is_backorder_allowed=False, available__lt=0).exists()

    @invariant()
    def reserved_is_order_holds_plus_transfer_holds(self) -> None:
        levels = {
            (level.variant_id, level.warehouse_id): level for level in StockLevel.objects.all()
        }
        transfer_holds = held_for_transfers(list(levels))
        order_holds = {
            (row["level__variant_id"], row["level__warehouse_id"]): row["quantity"]
            for row in Allocation.objects.filter(status=Allocation.Status.HELD)
            .values("level__variant_id", "level__warehouse_id")
            .annotate(quantity=Sum("quantity"))
            .order_by()
        }
        for key, level in levels.items():
            assert level.reserved == order_holds.get(key, 0) + transfer_holds.get(key, 0), key

    # --- Helpers ------------------------------------------------------------------------

    def _restock(self, variant: int, warehouse: int, quantity: int) -> None:
        receive_stock(
            variant=self.variants[variant],
            warehouse=self.warehouses[warehouse],
            quantity=quantity,
            actor=SYSTEM,
        )

    def _approve(self, transfer: Transfer) -> bool:
        """Approved exactly when every line fits in what is available at the source, even
        for a SKU that allows backorders; refused with nothing written otherwise."""
        available = {
            level.variant_id: level.available
            for level in StockLevel.objects.filter(warehouse=transfer.source)
        }
        fits = all(
            line.quantity <= available.get(line.variant_id, 0) for line in transfer.lines.all()
        )
        before = ledger_ids()
        try:
            approve_transfer(transfer=transfer, actor=SYSTEM)
        except InsufficientStock:
            event("approval refused")
            assert not fits
            assert ledger_ids() == before
            return False
        event("approved")
        assert fits
        after = StockLevel.objects.filter(
            warehouse=transfer.source, variant__in=transfer.lines.values("variant")
        )
        assert all(level.available >= 0 for level in after)
        return True

    def _any(self, *states: str) -> bool:
        return any(state in states for state in self.states.values())

    def _one(self, choice: int, *states: str) -> Transfer:
        candidates = sorted(pk for pk, state in self.states.items() if state in states)
        return Transfer.objects.get(pk=candidates[choice % len(candidates)])

    def _line(self, transfer: Transfer, choice: int) -> TransferLine:
        lines = list(transfer.lines.select_related("variant").order_by("pk"))
        return lines[choice % len(lines)]


@pytest.mark.postgres
@pytest.mark.django_db
def test_transfers_and_orders_keep_the_ledger_and_every_line_true():
    deterministic = {} if IS_THOROUGH else {"derandomize": True, "database": None}
    run_state_machine_as_test(
        TransfersAndOrders,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=30,
            # Every step goes through the services and PostgreSQL: no per-step deadline.
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            print_blob=True,
            **deterministic,
        ),
    )
