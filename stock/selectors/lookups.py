"""Finding a variant, warehouse or channel by the code callers know it by."""

from stock.errors import UnknownChannel, UnknownSku, UnknownWarehouse
from stock.models import Variant
from warehouses.models import SalesChannel, Warehouse


def get_variant_by_sku(sku: str) -> Variant:
    try:
        return Variant.objects.select_related("product").get(sku=sku)
    except Variant.DoesNotExist:
        raise UnknownSku(f"No variant has SKU {sku!r}.", {"sku": sku}) from None


def get_warehouse_by_code(code: str) -> Warehouse:
    try:
        return Warehouse.objects.get(code=code)
    except Warehouse.DoesNotExist:
        raise UnknownWarehouse(f"No warehouse has code {code!r}.", {"warehouse": code}) from None


def get_channel_by_code(code: str) -> SalesChannel:
    try:
        return SalesChannel.objects.get(code=code)
    except SalesChannel.DoesNotExist:
        raise UnknownChannel(f"No sales channel has code {code!r}.", {"channel": code}) from None
