from django.apps import AppConfig


class TransfersConfig(AppConfig):
    name = "transfers"

    def ready(self) -> None:
        from inventory_hub.shell.panels import (
            register_overview_tile,
            register_variant_action,
            register_variant_panel,
        )
        from transfers.views.panels import create_action, in_transit_tile, variant_panel

        register_variant_panel(variant_panel)
        register_variant_action(create_action)
        register_overview_tile(in_transit_tile)
