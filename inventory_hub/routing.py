"""WebSocket routes: the live pages' consumers (stock/, connectors/, transfers/, alerts/ and
suggestions/consumers.py)."""

from django.urls import path

from alerts.consumers import AlertsConsumer
from connectors.consumers import ConnectorsConsumer
from stock import consumers
from suggestions.consumers import SuggestionsConsumer
from transfers.consumers import TransferConsumer, TransfersConsumer

websocket_urlpatterns = [
    path("ws/live/overview/", consumers.OverviewConsumer.as_asgi()),
    path("ws/live/stock/", consumers.StockTableConsumer.as_asgi()),
    path("ws/live/variants/<int:variant_id>/", consumers.VariantConsumer.as_asgi()),
    path("ws/live/orders/", consumers.OrdersConsumer.as_asgi()),
    path("ws/live/connectors/", ConnectorsConsumer.as_asgi()),
    path("ws/live/transfers/", TransfersConsumer.as_asgi()),
    path("ws/live/transfers/<int:transfer_id>/", TransferConsumer.as_asgi()),
    path("ws/live/alerts/", AlertsConsumer.as_asgi()),
    path("ws/live/suggestions/", SuggestionsConsumer.as_asgi()),
]
