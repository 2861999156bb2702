"""What suggestions add to stock's pages (inventory_hub.shell.panels): the overview's tile
of open suggestions and the variant page's forecast, cover and projection per warehouse.
`connect_pages()` registers them; SuggestionsConfig.ready() calls it."""

from inventory_hub.shell.panels import Panel, register_overview_tile, register_variant_panel
from stock.models import Variant
from suggestions.listing import open_figures, suggestions_for_variant
from suggestions.selectors import variant_outlook


def suggestions_tile(warehouse_id: int | None) -> Panel:
    """Open suggestions: their number, units, value and cost; everywhere, or those from or
    to one warehouse."""
    return Panel("suggestions/partials/overview_tile.html", {"figures": open_figures(warehouse_id)})


def variant_panel(variant_id: int) -> Panel | None:
    """Per warehouse: forecast per day, its class and method, safety stock, reorder point,
    days of cover and projected run-out date; and this variant's open suggestions."""
    variant = Variant.objects.filter(pk=variant_id).first()
    if variant is None:
        return None
    return Panel(
        "suggestions/partials/variant_panel.html",
        {
            "outlook": variant_outlook(variant),
            "suggestions": suggestions_for_variant(variant_id),
        },
    )


def connect_pages() -> None:
    register_overview_tile(suggestions_tile)
    register_variant_panel(variant_panel)
