"""Give the roles the permissions of every hub model, including those created after 0003.

0003 ran before the connectors app had tables, so ops staff had no admin rights on
connectors (their pages and the CSV feed upload answered 403), and managers and viewers
could not view them. Running this again after a new model is added is harmless.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

HUB_APPS = ("warehouses", "stock", "transfers", "alerts", "connectors", "inventory_hub")
READ_ONLY_ROLES = ("Warehouse manager", "Viewer")


def grant_hub_permissions(apps, schema_editor):
    # Permissions are normally created after all migrations; the groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    hub = Permission.objects.filter(content_type__app_label__in=HUB_APPS)
    Group.objects.get_or_create(name="Ops staff")[0].permissions.add(*hub)
    read_only = hub.filter(codename__startswith="view_")
    for name in READ_ONLY_ROLES:
        Group.objects.get_or_create(name=name)[0].permissions.add(*read_only)


class Migration(migrations.Migration):
    dependencies = [
        ("warehouses", "0004_channel_allocation"),
        ("connectors", "0004_problem_counts_and_archive"),
        ("stock", "0013_order_line_short_quantity"),
    ]

    operations = [migrations.RunPython(grant_hub_permissions, migrations.RunPython.noop)]
