import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inventory_hub.settings.local")
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
