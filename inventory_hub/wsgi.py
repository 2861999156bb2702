import os

from django.core.wsgi import get_wsgi_application

# An ASGI or WSGI server pointed here directly is a production start; `make run` and
# `manage.py` set their own (local) settings before importing this.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inventory_hub.settings.production")
application = get_wsgi_application()
