from django.apps import AppConfig


class InventoryHubConfig(AppConfig):
    name = "inventory_hub"
    verbose_name = "Inventory hub"
