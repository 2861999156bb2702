"""What alerts add to the overview (a tile, see inventory_hub.shell.panels), and how the
pages hear of the evaluator's changes: both registered by `connect_pages()`, called from
AlertsConfig.ready()."""

from inventory_hub.shell.panels import Panel, register_overview_tile

from .fragments import tile_context


def alerts_tile(warehouse_id: int | None) -> Panel:
    """Firing alerts by severity, and the latest few not yet acknowledged."""
    return Panel("alerts/partials/overview_tile.html", tile_context(warehouse_id))


def connect_pages() -> None:
    from alerts.events import publish_evaluated
    from alerts.hooks import on_alerts_changed

    register_overview_tile(alerts_tile)
    # Alerts the evaluator fired or resolved reach the pages (and the overview's tile).
    on_alerts_changed(publish_evaluated)
