from django.apps import AppConfig


class StockConfig(AppConfig):
    name = "stock"
    verbose_name = "Catalogue and stock"

    def ready(self) -> None:
        from stock.api.errors import register_stock_errors

        # The API's error handler is in the shared kit, which imports no app.
        register_stock_errors()
