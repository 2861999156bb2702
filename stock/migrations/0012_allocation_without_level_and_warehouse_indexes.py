import django.db.models.deletion
from django.db import migrations, models

DROPPED = [
    ("stock_allocation_level_id_04a9835d", "stock_allocation", "level_id"),
    ("stock_allocation_warehouse_id_c8498f12", "stock_allocation", "warehouse_id"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("stock", "0011_order_references_without_row_locks"),
        ("warehouses", "0003_roles"),
    ]

    # As in 0010: AlterField would drop and re-add the level's foreign key (a validation scan
    # of every allocation under lock); only the indexes change, so only they are dropped.
    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="allocation",
                    name="level",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="allocations",
                        to="stock.stocklevel",
                    ),
                ),
                migrations.AlterField(
                    model_name="allocation",
                    name="warehouse",
                    field=models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="warehouses.warehouse",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f"DROP INDEX IF EXISTS {name}",
                    reverse_sql=f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({column})",
                )
                for name, table, column in DROPPED
            ],
        ),
    ]
