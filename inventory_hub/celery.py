import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inventory_hub.settings.local")

app = Celery("inventory_hub")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
