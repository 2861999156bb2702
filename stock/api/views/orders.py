"""Orders: place (reserve), list and read, pay, ship (all or some lines), cancel; resolve a
short order (fill its shortfall, cancel its short units).

Who may write: ops staff on any channel and an integration on the channels assigned to it;
shipping also a warehouse manager assigned to every warehouse that holds what ships.
"""

import django_filters
from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from inventory_hub.api.errors import ApiError
from inventory_hub.api.filters import (
    StableOrderingFilter,
    StrictBooleanFilter,
    StrictFilterSet,
    UtcIsoDateTimeFilter,
)
from inventory_hub.api.idempotency import idempotent
from inventory_hub.api.schema import (
    LIST_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    error_response,
    validated,
)
from stock.api.actors import actor_for
from stock.api.serializers.orders import NoInput, OrderInput, OrderOutput, ShipInput
from stock.errors import InvalidOrder
from stock.models import Allocation, Order, OrderLine, OrderStatus
from stock.selectors import get_channel_by_code, orders_readable_by, short_orders
from stock.services.orders import (
    OrderLineInput,
    cancel_order,
    cancel_short_units,
    fill_shortfall,
    pay_order,
    place_order,
    ship_order,
)
from warehouses.access import Capability, can_sell_on, may, writable_warehouse_ids
from warehouses.api.permissions import OrderWriters
from warehouses.api.scopes import require_channel_scope


def orders_with_lines() -> QuerySet[Order]:
    """Orders with everything OrderOutput reads, in four queries whatever their number."""
    allocations = Allocation.objects.select_related("warehouse").order_by("pk")
    lines = OrderLine.objects.select_related("variant").prefetch_related(
        Prefetch("allocations", queryset=allocations)
    )
    return Order.objects.select_related("channel").prefetch_related(
        Prefetch("lines", queryset=lines.order_by("line_number"))
    )


def _answer(order_id: int, *, status_code: int = status.HTTP_200_OK) -> Response:
    return Response(OrderOutput(orders_with_lines().get(pk=order_id)).data, status=status_code)


class OrderFilter(StrictFilterSet):
    channel = django_filters.CharFilter(field_name="channel__code", help_text="Channel code.")
    status = django_filters.MultipleChoiceFilter(
        choices=OrderStatus.choices, help_text="Repeat to match any of several."
    )
    reference = django_filters.CharFilter()
    placed_after = UtcIsoDateTimeFilter(
        field_name="placed_at", lookup_expr="gte", help_text="Placed at or after (ISO 8601)."
    )
    placed_before = UtcIsoDateTimeFilter(
        field_name="placed_at", lookup_expr="lt", help_text="Placed before (ISO 8601)."
    )
    is_short = StrictBooleanFilter(
        method="filter_is_short",
        help_text="true: only open orders with a shortfall (incidents); false: none of those.",
    )
    ordering = StableOrderingFilter(fields=["placed_at", "id"])

    class Meta:
        model = Order
        fields = ["channel", "status", "reference", "placed_after", "placed_before", "is_short"]

    def filter_is_short(self, queryset: QuerySet[Order], name: str, value: bool) -> QuerySet:
        short = short_orders(queryset)
        return short if value else queryset.exclude(pk__in=short.values("pk"))


PLACE_ERRORS = {
    **WRITE_ERRORS,
    400: error_response(
        "validation_error (details name each field), malformed_json, unknown_channel, "
        "and per line (details.lines lists each bad line by number): unknown_sku, "
        "invalid_quantity, invalid_order (empty order, same SKU twice, inactive channel), "
        "not_sellable (no warehouse of the channel stocks the SKU)"
    ),
    409: error_response(
        "insufficient_stock: details.lines lists each short line with "
        "line, sku, requested, available, missing; nothing is reserved"
    ),
}
ACTION_ERRORS = {
    **WRITE_ERRORS,
    404: error_response("not_found: no order has this id"),
}


class OrdersView(generics.ListAPIView):
    permission_classes = [OrderWriters]
    serializer_class = OrderOutput
    filter_backends = [DjangoFilterBackend]
    filterset_class = OrderFilter

    def get_queryset(self) -> QuerySet[Order]:
        return orders_readable_by(self.request.user, orders_with_lines()).order_by(
            "-placed_at", "-id"
        )

    @extend_schema(
        operation_id="orders_list",
        summary="List orders with their lines and where each line is held",
        responses={200: OrderOutput(many=True), **LIST_ERRORS},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="orders_place",
        summary="Place an order: reserve every line, all or nothing",
        request=OrderInput,
        responses={
            201: OrderOutput,
            200: OpenApiResponse(
                OrderOutput,
                description="The channel already has an order with this reference: it is "
                "returned unchanged.",
            ),
            **PLACE_ERRORS,
        },
    )
    @idempotent
    def post(self, request):
        data = validated(OrderInput, request)
        channel = get_channel_by_code(data["channel"])
        require_channel_scope(request.user, channel)
        shipping = data.get("shipping") or {}
        placed = place_order(
            channel=channel,
            reference=data["reference"],
            lines=[
                OrderLineInput(sku=line["sku"], quantity=line["quantity"]) for line in data["lines"]
            ],
            actor=actor_for(request),
            shipping_latitude=shipping.get("latitude"),
            shipping_longitude=shipping.get("longitude"),
            hold_minutes=data.get("hold_minutes"),
        )
        return _answer(
            placed.order.pk,
            status_code=status.HTTP_201_CREATED if placed.created else status.HTTP_200_OK,
        )


class OrderDetailView(generics.RetrieveAPIView):
    serializer_class = OrderOutput

    def get_queryset(self) -> QuerySet[Order]:
        # Another channel's order is not found: its existence is not the token's business.
        return orders_readable_by(self.request.user, orders_with_lines())

    @extend_schema(
        operation_id="orders_retrieve",
        summary="One order with its lines and where each line is held",
        responses={200: OrderOutput, **READ_ERRORS, 404: error_response("not_found")},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class _OrderActionView(APIView):
    permission_classes = [OrderWriters]

    def get_order(self, pk: int) -> Order:
        return get_object_or_404(Order.objects.select_related("channel"), pk=pk)


class PayOrderView(_OrderActionView):
    @extend_schema(
        operation_id="orders_pay",
        summary="Pay an order: its hold becomes firm and no longer expires",
        request=None,
        responses={
            200: OpenApiResponse(OrderOutput, description="Paid now, or already paid."),
            **ACTION_ERRORS,
            409: error_response(
                "hold_expired (details.expired_at), invalid_order_state (cancelled or expired)"
            ),
        },
    )
    @idempotent
    def post(self, request, pk: int):
        validated(NoInput, request)
        order = self.get_order(pk)
        require_channel_scope(request.user, order.channel)
        pay_order(order=order, actor=actor_for(request))
        return _answer(order.pk)


class ShipOrderView(_OrderActionView):
    @extend_schema(
        operation_id="orders_ship",
        summary="Ship an order, or some of its lines: on hand and reserved go down together",
        request=ShipInput,
        responses={
            200: OpenApiResponse(
                OrderOutput, description="Shipped now, or those lines were already shipped."
            ),
            **ACTION_ERRORS,
            400: error_response(
                "validation_error, malformed_json, invalid_order (details.lines lists the line "
                "numbers the order does not have)"
            ),
            403: error_response(
                "permission_denied: not the channel's integration, nor a warehouse manager of "
                "every warehouse holding these lines (details.warehouses names the others)"
            ),
            409: error_response(
                "hold_expired, invalid_order_state (cancelled or expired), insufficient_stock "
                "(a backordered line with nothing on hand yet)"
            ),
        },
    )
    @idempotent
    def post(self, request, pk: int):
        line_numbers = validated(ShipInput, request).get("lines")
        order = self.get_order(pk)
        _require_lines_exist(order, line_numbers)
        _require_ship_scope(request.user, order, line_numbers)
        ship_order(order=order, actor=actor_for(request), line_numbers=line_numbers)
        return _answer(order.pk)


class CancelOrderView(_OrderActionView):
    @extend_schema(
        operation_id="orders_cancel",
        summary="Cancel an order: every unshipped unit is released",
        request=None,
        responses={
            200: OpenApiResponse(
                OrderOutput, description="Cancelled now, or already cancelled or expired."
            ),
            **ACTION_ERRORS,
            409: error_response("invalid_order_state: the order is already shipped"),
        },
    )
    @idempotent
    def post(self, request, pk: int):
        validated(NoInput, request)
        order = self.get_order(pk)
        require_channel_scope(request.user, order.channel)
        cancel_order(order=order, actor=actor_for(request))
        return _answer(order.pk)


class FillShortfallView(_OrderActionView):
    @extend_schema(
        operation_id="orders_fill_shortfall",
        summary="Short order: hold what is available now (after a restock or a transfer) "
        "and reduce each line's shortfall by as much",
        request=None,
        responses={
            200: OpenApiResponse(
                OrderOutput,
                description="Each open line's short_quantity after the fill; unchanged when "
                "nothing more is available, or the order is not short.",
            ),
            **ACTION_ERRORS,
            409: error_response(
                "hold_expired (an unpaid hold ran out), invalid_order_state (cancelled or expired)"
            ),
        },
    )
    @idempotent
    def post(self, request, pk: int):
        validated(NoInput, request)
        order = self.get_order(pk)
        require_channel_scope(request.user, order.channel)
        fill_shortfall(order=order, actor=actor_for(request))
        return _answer(order.pk)


class CancelShortUnitsView(_OrderActionView):
    @extend_schema(
        operation_id="orders_cancel_short_units",
        summary="Short order: drop the units the hub could not hold (the store refunds them)",
        request=None,
        responses={
            200: OpenApiResponse(
                OrderOutput,
                description="Each short line keeps only its held units (a line with none is "
                "released; an order left with no open line is cancelled). Unchanged when the "
                "order is not short.",
            ),
            **ACTION_ERRORS,
            409: error_response("invalid_order_state: the order is cancelled or expired"),
        },
    )
    @idempotent
    def post(self, request, pk: int):
        validated(NoInput, request)
        order = self.get_order(pk)
        require_channel_scope(request.user, order.channel)
        cancel_short_units(order=order, actor=actor_for(request))
        return _answer(order.pk)


def _require_lines_exist(order: Order, line_numbers: list[int] | None) -> None:
    """Unknown lines are a 400 for every caller, before the scope check looks at warehouses."""
    if line_numbers is None:
        return
    known = set(order.lines.values_list("line_number", flat=True))
    unknown = [number for number in dict.fromkeys(line_numbers) if number not in known]
    if unknown:
        raise InvalidOrder(
            f"The order has no line {', '.join(map(str, unknown))}.", {"lines": unknown}
        )


def _require_ship_scope(user, order: Order, line_numbers: list[int] | None) -> None:
    """The channel's sellers ship anything; a manager only what sits in their warehouses.

    The warehouses that count are those holding the open lines about to ship; when nothing
    is held any more (a repeat, or a closed order) those that held the lines, so that the
    no-op answer or the state error goes only to someone who could have shipped them.
    """
    if can_sell_on(user, order.channel):
        return
    if not may(user, Capability.SHIP_FROM_OWN_WAREHOUSES):
        require_channel_scope(user, order.channel)
    allocations = Allocation.objects.filter(line__order=order)
    if line_numbers is not None:
        allocations = allocations.filter(line__line_number__in=line_numbers)
    held = allocations.filter(status=Allocation.Status.HELD, line__status=OrderLine.Status.OPEN)
    holding = dict(
        (held if held.exists() else allocations).values_list("warehouse_id", "warehouse__code")
    )
    if not holding:
        raise ApiError(
            status_code=status.HTTP_403_FORBIDDEN,
            code="permission_denied",
            message="No warehouse holds these lines; only ops staff or the channel's "
            "integration may ship them.",
        )
    allowed = writable_warehouse_ids(user) or set()
    others = sorted(code for warehouse_id, code in holding.items() if warehouse_id not in allowed)
    if others:
        raise ApiError(
            status_code=status.HTTP_403_FORBIDDEN,
            code="permission_denied",
            message=f"You may not ship from warehouse {', '.join(others)}.",
            details={"warehouses": others},
        )
