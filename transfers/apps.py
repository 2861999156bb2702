from django.apps import AppConfig


class TransfersConfig(AppConfig):
    name = "transfers"

    def ready(self) -> None:
        from transfers.api.errors import register_transfer_errors

        # The API's error handler is in the shared kit, which imports no app.
        register_transfer_errors()
