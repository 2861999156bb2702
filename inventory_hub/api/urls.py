from django.urls import include, path

urlpatterns = [
    path("", include("stock.api.urls")),
    path("", include("warehouses.api.urls")),
    path("", include("connectors.api.urls")),
    path("", include("transfers.api.urls")),
    path("", include("alerts.api.urls")),
    path("", include("suggestions.api.urls")),
]
