from django.urls import path

from stock import views

app_name = "dashboard"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("stock/", views.stock_table, name="stock"),
    path("variants/<str:sku>/", views.variant_detail, name="variant"),
    path("variants/<str:sku>/adjust/", views.adjust, name="adjust"),
    path("variants/<str:sku>/count/", views.count, name="count"),
    path("variants/<str:sku>/force/", views.force_status, name="force-status"),
    path("variants/<str:sku>/unforce/", views.unforce_status, name="unforce-status"),
    path("orders/", views.orders, name="orders"),
    path("orders/<int:pk>/fill-shortfall/", views.fill_shortfall, name="fill-shortfall"),
    path(
        "orders/<int:pk>/cancel-short-units/",
        views.cancel_short_units,
        name="cancel-short-units",
    ),
]
