from rest_framework.exceptions import PermissionDenied

from warehouses.access import can_change_stock_at, can_sell_on
from warehouses.models import SalesChannel, Warehouse


def require_stock_scope(user, warehouse: Warehouse) -> None:
    if not can_change_stock_at(user, warehouse):
        raise PermissionDenied(f"You may not change stock at warehouse {warehouse.code}.")


def require_channel_scope(user, channel: SalesChannel) -> None:
    if not can_sell_on(user, channel):
        raise PermissionDenied(f"You may not change orders on channel {channel.code}.")
