"""Trigram indexes for the stock page's search as you type (PostgreSQL only).

Django's `icontains` on PostgreSQL compares UPPER(column::text) LIKE UPPER(pattern); GIN
indexes with gin_trgm_ops on exactly those expressions let a substring search of SKUs and
product names use an index instead of reading every variant. Measured on 50,000 variants
by bench/dashboard.py's data: the slowest searches went from 159-175 ms to 42-82 ms.
SQLite has no such index and does not need one at the sizes `make run` holds.
"""

from django.db import migrations

UP = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS variant_sku_trgm ON stock_variant "
    "USING gin (UPPER(sku::text) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS product_name_trgm ON stock_product "
    "USING gin (UPPER(name::text) gin_trgm_ops)",
]
DOWN = [
    "DROP INDEX IF EXISTS variant_sku_trgm",
    "DROP INDEX IF EXISTS product_name_trgm",
]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in UP:
            schema_editor.execute(statement)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in DOWN:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("stock", "0005_expiry_claim_index")]

    operations = [migrations.RunPython(forwards, backwards)]
