"""An index on product names in order, for the stock page's product-name sort.

The sort finds the first variants (by product name, then SKU) that have a level passing the
filters. Without an index on the name, PostgreSQL joined all 50,000 variants to their
levels and sorted them (206 ms on bench/dashboard.py's 500,000 levels); walking the
names in order it stops after the page (0.4 ms). Product names change rarely: the index
costs nothing on the paths that change stock. A plain B-tree, so SQLite gets it too.
Kept out of the model's Meta like the trigram indexes of 0006, which it sits beside.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("stock", "0007_order_channel_index_covered_by_reference")]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS product_name_sort ON stock_product (name, id)",
            "DROP INDEX IF EXISTS product_name_sort",
        )
    ]
