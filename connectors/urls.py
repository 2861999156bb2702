from django.urls import path

from connectors import views

app_name = "connectors"

urlpatterns = [
    path("<int:connector_id>/inbound/", views.inbound, name="inbound"),
]
