from django.apps import AppConfig


class StockConfig(AppConfig):
    name = "stock"
    verbose_name = "Catalogue and stock"
