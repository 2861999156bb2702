"""Orders as ops and integrations may read them."""

from django.db.models import Exists, OuterRef, QuerySet

from stock.models import OPEN_ORDER_STATUSES, Order, OrderLine
from warehouses.access import readable_channel_ids


def short_orders(queryset: QuerySet | None = None) -> QuerySet:
    """Open orders with an open short line: incidents for ops to resolve."""
    queryset = queryset if queryset is not None else Order.objects.all()
    return queryset.filter(status__in=OPEN_ORDER_STATUSES).filter(
        Exists(
            OrderLine.objects.filter(
                order=OuterRef("pk"), status=OrderLine.Status.OPEN, short_quantity__gt=0
            )
        )
    )


def orders_readable_by(user, queryset: QuerySet | None = None) -> QuerySet:
    """The orders `user` may read: an integration its channels' only (warehouses.access)."""
    queryset = queryset if queryset is not None else Order.objects.all()
    channel_ids = readable_channel_ids(user)
    return queryset if channel_ids is None else queryset.filter(channel_id__in=channel_ids)
