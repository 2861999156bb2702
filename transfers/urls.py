from django.urls import path

from transfers import views

app_name = "transfers"

urlpatterns = [
    path("wms/<int:warehouse_id>/events", views.wms_events, name="wms-events"),
]
