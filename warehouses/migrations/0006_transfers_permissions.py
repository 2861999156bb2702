"""Give the roles the permissions of the transfers and alerts models, which came after 0005.

0005 ran before those apps had tables, so ops staff had no admin rights on lanes and
transfers (their admin pages answered 403), and managers and viewers could not view them.
The same grant as 0005, run again after the latest migration of each; a later model needs
one more such migration (tests/warehouses/test_access.py fails until it has it).
"""

from importlib import import_module

from django.db import migrations

grant_hub_permissions = import_module(
    "warehouses.migrations.0005_role_permissions"
).grant_hub_permissions


class Migration(migrations.Migration):
    dependencies = [
        ("warehouses", "0005_role_permissions"),
        ("transfers", "0003_warehouse_system"),
        ("alerts", "0001_initial"),
    ]

    operations = [migrations.RunPython(grant_hub_permissions, migrations.RunPython.noop)]
