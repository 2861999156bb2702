"""Give the roles the permissions of the suggestions models (issue 22).

The grant of 0005 covers the apps it names; suggestions came later, so ops staff get every
permission of its models and managers and viewers the view ones, as for the other hub apps
(warehouses.access.HUB_APPS). Running it again is harmless.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

READ_ONLY_ROLES = ("Warehouse manager", "Viewer")


def grant_suggestions_permissions(apps, schema_editor):
    # Permissions are normally created after all migrations; the groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    suggestions = Permission.objects.filter(content_type__app_label="suggestions")
    Group.objects.get_or_create(name="Ops staff")[0].permissions.add(*suggestions)
    read_only = suggestions.filter(codename__startswith="view_")
    for name in READ_ONLY_ROLES:
        Group.objects.get_or_create(name=name)[0].permissions.add(*read_only)


class Migration(migrations.Migration):
    dependencies = [
        ("warehouses", "0006_transfers_permissions"),
        ("transfers", "0005_lane_capacity_units"),
        ("suggestions", "0001_initial"),
    ]

    operations = [migrations.RunPython(grant_suggestions_permissions, migrations.RunPython.noop)]
