from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    name = "connectors"

    def ready(self) -> None:
        # Registers the tasks that services queue by name (connectors.dispatch).
        from connectors import tasks  # noqa: F401
        from connectors.outbox import enqueue_channel_pushes
        from warehouses.events import on_selling_changed

        # A channel's links, buffer or cap, or a warehouse switched on or off, change what
        # the stores showing that channel must be told: outbox rows, in the same transaction.
        on_selling_changed(enqueue_channel_pushes)
