import os

from django.core.asgi import get_asgi_application

# An ASGI or WSGI server pointed here directly is a production start; `make run` and
# `manage.py` set their own (local) settings before importing this.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inventory_hub.settings.production")
# Django must be set up before anything imports models (consumers, routing).
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from connectors.fast_inbound import FastInbound  # noqa: E402
from inventory_hub.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        # Store webhooks' common case is answered before Django (see connectors.fast_inbound).
        "http": FastInbound(django_asgi_app),
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
