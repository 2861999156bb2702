from django.urls import path

from transfers import views

app_name = "transfers"

urlpatterns = [
    path("", views.transfers_page, name="list"),
    path("<int:pk>/", views.transfer_detail, name="detail"),
    path("<int:pk>/approve/", views.approve, name="approve"),
    path("<int:pk>/pick/", views.pick, name="pick"),
    path("<int:pk>/ship/", views.ship, name="ship"),
    path("<int:pk>/receive/", views.receive, name="receive"),
    path("<int:pk>/receive-return/", views.receive_return_view, name="receive-return"),
    path("<int:pk>/close-short/", views.close_short, name="close-short"),
    path("<int:pk>/cancel/", views.cancel, name="cancel"),
    path("from-variant/<str:sku>/", views.create_from_variant, name="create-from-variant"),
    path("wms/<int:warehouse_id>/events", views.wms_events, name="wms-events"),
]
