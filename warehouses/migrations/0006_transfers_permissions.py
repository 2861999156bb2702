"""Give the roles the permissions of the transfers models, which came after 0005.

0005 ran before the transfers app had tables, so ops staff had no admin rights on lanes and
transfers (their admin pages answered 403), and managers and viewers could not view them.
The same grant as 0005, run again now that the models exist.
"""

from importlib import import_module

from django.db import migrations

grant_hub_permissions = import_module(
    "warehouses.migrations.0005_role_permissions"
).grant_hub_permissions


class Migration(migrations.Migration):
    dependencies = [
        ("warehouses", "0005_role_permissions"),
        ("transfers", "0002_transfer_due_at"),
    ]

    operations = [migrations.RunPython(grant_hub_permissions, migrations.RunPython.noop)]
