from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from inventory_hub.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("inventory_hub.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("inventory_hub.shell.urls")),
    path("connectors/", include("connectors.urls")),
    path("transfers/", include("transfers.urls")),
    path("alerts/", include("alerts.urls")),
    path("suggestions/", include("suggestions.urls")),
    path("", include("stock.urls")),
]

handler404 = "inventory_hub.api.errors.not_found"
handler500 = "inventory_hub.api.errors.server_error"
