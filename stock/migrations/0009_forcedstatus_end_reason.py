from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("stock", "0008_product_name_sort_index")]

    operations = [
        migrations.AddField(
            model_name="forcedstatus",
            name="end_reason",
            field=models.CharField(blank=True, default="", max_length=255),
            preserve_default=False,
        ),
    ]
