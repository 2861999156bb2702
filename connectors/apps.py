from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    name = "connectors"

    def ready(self) -> None:
        # Registers the tasks that services queue by name (connectors.dispatch).
        from connectors import tasks  # noqa: F401
        from connectors.outbox import enqueue_channel_pushes, enqueue_stock_pushes, may_enqueue
        from inventory_hub.api.errors import register_json_view
        from stock.events import on_stock_changed_in_transaction
        from warehouses.events import on_selling_changed

        # A stock change a store must hear of is an outbox row written in the same
        # transaction as the ledger row, so a crash after the commit loses no push.
        on_stock_changed_in_transaction(enqueue_stock_pushes, may_write=may_enqueue)
        # A channel's links, buffer or cap, or a warehouse switched on or off, change what
        # the stores showing that channel must be told: outbox rows, in the same transaction.
        on_selling_changed(enqueue_channel_pushes)
        # A store's webhook delivery over the size limit is told so in JSON, as the API is.
        register_json_view("connectors:inbound")
