import os

from celery import Celery

# Imported first by every entry point but manage.py (which sets local settings for `make
# run`): a worker, beat or app server started without DJANGO_SETTINGS_MODULE is production.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inventory_hub.settings.production")

app = Celery("inventory_hub")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
