from django.urls import path

from .views import adjustments, availability, bulk, catalogue, levels, movements, orders

urlpatterns = [
    path("stock/adjustments/", adjustments.StockAdjustmentView.as_view(), name="stock-adjustments"),
    path("bulk/stock/", bulk.BulkStockView.as_view(), name="bulk-stock"),
    path("orders/", orders.OrdersView.as_view(), name="orders"),
    path("orders/<int:pk>/", orders.OrderDetailView.as_view(), name="order-detail"),
    path("orders/<int:pk>/pay/", orders.PayOrderView.as_view(), name="order-pay"),
    path("orders/<int:pk>/ship/", orders.ShipOrderView.as_view(), name="order-ship"),
    path("orders/<int:pk>/cancel/", orders.CancelOrderView.as_view(), name="order-cancel"),
    path(
        "orders/<int:pk>/fill-shortfall/",
        orders.FillShortfallView.as_view(),
        name="order-fill-shortfall",
    ),
    path(
        "orders/<int:pk>/cancel-short-units/",
        orders.CancelShortUnitsView.as_view(),
        name="order-cancel-short-units",
    ),
    path("availability/", availability.AvailabilityView.as_view(), name="availability"),
    path("products/", catalogue.ProductListView.as_view(), name="products"),
    path("products/<int:pk>/", catalogue.ProductDetailView.as_view(), name="product"),
    path(
        "products/<int:pk>/deactivate/",
        catalogue.ProductDeactivateView.as_view(),
        name="product-deactivate",
    ),
    path("variants/", catalogue.VariantListView.as_view(), name="variants"),
    path("variants/<str:sku>/", catalogue.VariantDetailView.as_view(), name="variant"),
    path(
        "variants/<str:sku>/deactivate/",
        catalogue.VariantDeactivateView.as_view(),
        name="variant-deactivate",
    ),
    path("stock/", levels.StockLevelListView.as_view(), name="stock-levels"),
    # Any other stock/<word>/ route must come before this one, or it is taken for a SKU.
    path("stock/<str:sku>/", levels.StockForSkuView.as_view(), name="stock-for-sku"),
    path("movements/", movements.MovementListView.as_view(), name="movements"),
]
