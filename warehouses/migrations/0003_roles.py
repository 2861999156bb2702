"""The four roles are Django groups, so ops can see and assign them in the admin."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLE_GROUPS = ("Ops staff", "Warehouse manager", "Viewer", "Integration")
HUB_APPS = ("warehouses", "stock", "transfers", "alerts", "connectors", "inventory_hub")


def create_roles(apps, schema_editor):
    # Permissions are normally created after all migrations; the groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    hub = Permission.objects.filter(content_type__app_label__in=HUB_APPS)
    groups = {name: Group.objects.get_or_create(name=name)[0] for name in ROLE_GROUPS}
    groups["Ops staff"].permissions.set(hub)
    read_only = hub.filter(codename__startswith="view_")
    for name in ("Warehouse manager", "Viewer"):
        groups[name].permissions.set(read_only)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLE_GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("warehouses", "0002_assigned_users"),
        ("stock", "0003_orders"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
