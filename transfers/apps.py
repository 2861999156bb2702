from django.apps import AppConfig


class TransfersConfig(AppConfig):
    name = "transfers"

    def ready(self) -> None:
        from inventory_hub.api.errors import register_json_view
        from inventory_hub.shell.panels import (
            register_overview_tile,
            register_variant_action,
            register_variant_panel,
        )
        from stock.selectors import TRANSFER_HOLDS, register_hold_source, register_ledger_check

        # Registers the tasks that services queue by name (transfers.services.instructions).
        from transfers import tasks  # noqa: F401
        from transfers.api.errors import register_transfer_errors
        from transfers.holds import held_for_transfers
        from transfers.verification import transfer_line_problems
        from transfers.views.panels import create_action, in_transit_tile, variant_panel

        # A warehouse system's report over the size limit is told so in JSON.
        register_json_view("transfers:wms-events")
        # Stock never imports transfers: it asks through what is registered here.
        register_hold_source(TRANSFER_HOLDS, held_for_transfers)
        register_ledger_check("transfers", transfer_line_problems)
        # The API's error handler is in the shared kit, which imports no app.
        register_transfer_errors()
        # Stock's pages show what transfers register (inventory_hub.shell.panels).
        register_variant_panel(variant_panel)
        register_variant_action(create_action)
        register_overview_tile(in_transit_tile)
