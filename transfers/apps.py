from django.apps import AppConfig


class TransfersConfig(AppConfig):
    name = "transfers"

    def ready(self) -> None:
        # Registers the tasks that services queue by name (transfers.services.instructions).
        from inventory_hub.api.errors import register_json_view
        from transfers import tasks  # noqa: F401

        # A warehouse system's report over the size limit is told so in JSON.
        register_json_view("transfers:wms-events")
        # Stock never imports transfers: it asks through what is registered here.
        from stock.selectors import TRANSFER_HOLDS, register_hold_source, register_ledger_check
        from transfers.holds import held_for_transfers
        from transfers.verification import transfer_line_problems

        register_hold_source(TRANSFER_HOLDS, held_for_transfers)
        register_ledger_check("transfers", transfer_line_problems)
        # Stock's pages show what transfers register (inventory_hub.shell.panels).
        from inventory_hub.shell.panels import (
            register_overview_tile,
            register_variant_action,
            register_variant_panel,
        )
        from transfers.views.panels import create_action, in_transit_tile, variant_panel

        register_variant_panel(variant_panel)
        register_variant_action(create_action)
        register_overview_tile(in_transit_tile)
