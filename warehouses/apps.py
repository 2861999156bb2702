from django.apps import AppConfig


class WarehousesConfig(AppConfig):
    name = "warehouses"
    verbose_name = "Warehouses and sales channels"

    def ready(self) -> None:
        from inventory_hub.shell.roles import register_dashboard_roles
        from warehouses.access import dashboard_role

        # The shell imports no app: whose role opens the dashboard is the role policy's to say.
        register_dashboard_roles(dashboard_role)
