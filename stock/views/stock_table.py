"""The stock table: every (variant, warehouse) level, filtered, sorted and paged.

Built for 500,000 levels: no COUNT(*) (a page knows only whether another follows, by
reading one row more), every sort ends on a unique key so pages never overlap, the page's
ids are chosen before the rows are loaded, and a search in SKU order first finds the few
variants the page can need. A page costs the same few queries whatever its size.

Sorting by a figure (on hand, reserved, available, inbound) needs one warehouse. Across
all warehouses it is a sort of every level (a top-N over 500,000 rows, 70-280 ms), and an
index on those figures would cost every order: an index on a column an order changes
stops PostgreSQL's HOT updates of the level. Within one warehouse it is a top-N over that
warehouse's levels (available uses the (warehouse, available) index).
"""

from dataclasses import dataclass
from urllib.parse import urlencode

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers

from inventory_hub.htmx import HtmxHttpRequest
from inventory_hub.shell.views import dashboard_view
from stock.forms import StockFilterForm
from stock.models import Product, StockLevel, StockStatus, Variant
from stock.selectors import levels_with_status, stock_levels
from stock.views.fragments import StockRow, stock_rows
from warehouses.models import ChannelWarehouse, SalesChannel, Warehouse

# Ties are broken by a unique key, so OFFSET pages are stable.
SORT_ORDERS: dict[str, tuple[str, ...]] = {
    "sku": ("variant__sku", "warehouse__code"),
    "product": ("variant__product__name", "variant__sku", "warehouse__code"),
    "warehouse": ("warehouse__code", "variant__sku"),
    "on_hand": ("on_hand", "pk"),
    "reserved": ("reserved", "pk"),
    "available": ("available", "pk"),
    "inbound": ("inbound", "pk"),
}
COLUMNS = [
    ("sku", "SKU / product"),
    ("warehouse", "Warehouse"),
    ("on_hand", "On hand"),
    ("reserved", "Reserved"),
    ("available", "Available"),
    ("inbound", "Inbound"),
]
FIGURES = ("on_hand", "reserved", "available", "inbound")
DEFAULTS = {"q": "", "warehouse": None, "channel": None, "status": "", "sort": "sku", "size": 50}


@dataclass(frozen=True, slots=True)
class SortHeader:
    key: str
    label: str
    url: str | None  # None: not sortable with these filters (a figure, without a warehouse)
    direction: str  # "ascending", "descending" or "none" (aria-sort)


@dataclass(frozen=True, slots=True)
class StockPage:
    rows: list[StockRow]
    number: int
    size: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def first_index(self) -> int:
        return (self.number - 1) * self.size + 1 if self.rows else 0

    @property
    def last_index(self) -> int:
        return (self.number - 1) * self.size + len(self.rows)


def filtered_levels(values: dict) -> QuerySet[StockLevel]:
    """Levels passing the warehouse, channel and status filters (not the search)."""
    levels = StockLevel.objects.all()
    if values["warehouse"] is not None:
        levels = levels.filter(warehouse_id=values["warehouse"])
    if values["channel"] is not None:
        linked = ChannelWarehouse.objects.filter(channel_id=values["channel"])
        levels = levels.filter(warehouse_id__in=linked.values("warehouse_id"))
    if values["status"]:
        levels = levels_with_status(levels, values["status"])
    return levels


# A search matching at most this many variants is sorted by warehouse in one query (at most
# ten times as many levels); more matches are frequent enough to walk the SKU index for.
FEW_MATCHES = 500


# Sorts that follow a variant's own order: the first N rows of the table then belong to
# the first N variants (in that order) having a row that passes the filters.
VARIANT_ORDERS: dict[str, tuple[str, ...]] = {
    "sku": ("sku",),
    "product": ("product__name", "sku"),
}


def matching_variants(query: str) -> QuerySet[Variant]:
    """Variants whose SKU or product name contains `query`, ignoring case.

    Each side is its own subquery, so the trigram indexes on UPPER(sku) and UPPER(name)
    (migration 0006) find the matches instead of a test on every variant walked past.
    """
    by_sku = Variant.objects.filter(sku__icontains=query).values("pk")
    products = Product.objects.filter(name__icontains=query).values("pk")
    return Variant.objects.filter(Q(pk__in=by_sku) | Q(product_id__in=products))


def through_first_variants(values: dict, levels: QuerySet[StockLevel], *, wanted: int):
    """`levels`, limited to what the first `wanted` rows in a variant order can come from.

    A substring search or a product-name sort would otherwise make PostgreSQL sort every
    matching level (up to all 500,000) to show fifty. Finding the first `wanted` variants
    that have a row passing the filters is bounded by the variant table instead, and
    only their levels are sorted.
    """
    name = values["sort"].removeprefix("-")
    sign = "-" if values["sort"].startswith("-") else ""
    variants = matching_variants(values["q"]) if values["q"] else Variant.objects.all()
    with_rows = variants.filter(Exists(levels.filter(variant_id=OuterRef("pk"))))
    first = with_rows.order_by(*(f"{sign}{column}" for column in VARIANT_ORDERS[name]))
    return levels.filter(variant_id__in=first.values("pk")[:wanted])


def figure_sort_without_warehouse(values: dict) -> str | None:
    """The figure asked to sort by when no warehouse is chosen (refused), or None."""
    name = values["sort"].removeprefix("-")
    return name if name in FIGURES and values["warehouse"] is None else None


def shown_warehouse_ids(values: dict) -> list[int]:
    """The warehouses whose levels pass the warehouse and channel filters, by code."""
    warehouses = Warehouse.objects.order_by("code")
    if values["warehouse"] is not None:
        warehouses = warehouses.filter(pk=values["warehouse"])
    if values["channel"] is not None:
        warehouses = warehouses.filter(links__channel_id=values["channel"])
    return list(warehouses.values_list("pk", flat=True))


def ids_warehouse_by_warehouse(values: dict, *, wanted: int) -> list[int]:
    """The first `wanted` level ids in (warehouse code, SKU) order.

    Sorted in one query, the first warehouse's levels (50,000) are all read and sorted by
    SKU. One warehouse at a time, in SKU order, a page stops early (see `page_ids`): a query
    per warehouse until the page is full, the last one usually the first. A search matching
    few variants (or none) would cost a query per warehouse for nothing; those few
    variants' levels are sorted in one query instead.
    """
    sign = "-" if values["sort"].startswith("-") else ""
    if values["q"]:
        matches = matching_variants(values["q"]).values_list("pk", flat=True)
        few = list(matches[: FEW_MATCHES + 1])
        if len(few) <= FEW_MATCHES:
            return list(
                filtered_levels(values)
                .filter(variant_id__in=few)
                .order_by(f"{sign}warehouse__code", f"{sign}variant__sku")
                .values_list("pk", flat=True)[:wanted]
            )
    warehouse_ids = shown_warehouse_ids(values)
    if sign:
        warehouse_ids.reverse()
    ids: list[int] = []
    for warehouse_id in warehouse_ids:
        if len(ids) >= wanted:
            break
        in_one = {**values, "warehouse": warehouse_id, "sort": f"{sign}sku"}
        ids += page_ids(in_one, start=0, count=wanted - len(ids))
    return ids


def page_ids(values: dict, *, start: int, count: int) -> list[int]:
    """Ids of the levels at positions start … start + count - 1 in the table's order.

    Ids first, without the joins a row needs: a sort on the level's own columns is then a
    top-N over one table.
    """
    sort = values["sort"]
    name = sort.removeprefix("-")
    if figure_sort_without_warehouse(values):
        raise ValueError(f"Sorting by {name} needs a warehouse.")
    if name == "warehouse":
        return ids_warehouse_by_warehouse(values, wanted=start + count)[start:]
    order = SORT_ORDERS[name]
    if sort.startswith("-"):
        order = tuple(f"-{column}" for column in order)
    levels = filtered_levels(values)
    # In SKU order without a search, the (variant, warehouse) index already stops early.
    if name in VARIANT_ORDERS and (values["q"] or name != "sku"):
        levels = through_first_variants(values, levels, wanted=start + count)
    elif values["q"]:
        levels = levels.filter(variant_id__in=matching_variants(values["q"]).values("pk"))
    return list(levels.order_by(*order).values_list("pk", flat=True)[start : start + count])


def stock_page(values: dict) -> StockPage:
    size, number = values["size"], values["page"]
    # One row more than the page tells whether another follows.
    ids = page_ids(values, start=(number - 1) * size, count=size + 1)
    shown = stock_levels().in_bulk(ids[:size])
    return StockPage(
        rows=stock_rows([shown[pk] for pk in ids[:size]]),
        number=number,
        size=size,
        has_next=len(ids) > size,
    )


def _query(values: dict, **changes) -> str:
    merged = {**values, **changes}
    shown = {
        name: value
        for name, value in merged.items()
        if value not in (None, "") and (name == "page" or DEFAULTS.get(name) != value)
    }
    if shown.get("page") == 1:
        del shown["page"]
    return "?" + urlencode(shown) if shown else "?"


def sort_headers(values: dict) -> list[SortHeader]:
    current = values["sort"]
    headers = []
    for key, label in COLUMNS:
        if current == key:
            direction, next_sort = "ascending", f"-{key}"
        elif current == f"-{key}":
            direction, next_sort = "descending", key
        else:
            direction, next_sort = "none", key
        # A figure's header sorts only once a warehouse is chosen.
        sortable = key not in FIGURES or values["warehouse"] is not None
        headers.append(
            SortHeader(
                key=key,
                label=label,
                url=_query(values, sort=next_sort, page=1) if sortable else None,
                direction=direction,
            )
        )
    return headers


@dashboard_view
def stock_table(request: HtmxHttpRequest) -> HttpResponse:
    warehouses = list(Warehouse.objects.order_by("code"))
    channels = list(SalesChannel.objects.order_by("code"))
    form = StockFilterForm(request.GET, warehouses=warehouses, channels=channels)
    values = form.values()
    # A figure sort kept in the form from before "All warehouses" was chosen, or an old link.
    refused_sort = figure_sort_without_warehouse(values)
    if refused_sort:
        values["sort"] = DEFAULTS["sort"]
    page = stock_page(values)
    link_values = {name: values[name] for name in DEFAULTS}
    context = {
        "form": form,
        "values": values,
        "warehouses": warehouses,
        "channels": channels,
        "statuses": StockStatus.choices,
        "figure_labels": ", ".join(label.lower() for key, label in COLUMNS if key in FIGURES),
        "refused_sort": dict(COLUMNS)[refused_sort].lower() if refused_sort else None,
        "page": page,
        "headers": sort_headers(link_values),
        "previous_url": _query(link_values, page=page.number - 1),
        "next_url": _query(link_values, page=page.number + 1),
        "self_url": request.path + _query(link_values, page=page.number),
        "live_url": "/ws/live/stock/",
    }
    if request.htmx and request.htmx.target == "stock-results":
        response = render(request, "stock/partials/stock_results.html", context)
    else:
        response = render(request, "stock/stock.html", context)
    # The same URL answers a fragment or a page: caches must tell them apart.
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response
