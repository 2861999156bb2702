# WebSocket routes; the live dashboard's consumers are added here.
websocket_urlpatterns: list = []
