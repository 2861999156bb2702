from django.apps import AppConfig


class TransfersConfig(AppConfig):
    name = "transfers"

    def ready(self) -> None:
        # Registers the tasks that services queue by name (transfers.services.instructions).
        from inventory_hub.api.errors import register_json_view
        from transfers import tasks  # noqa: F401

        # A warehouse system's report over the size limit is told so in JSON.
        register_json_view("transfers:wms-events")
