from django.urls import path

from connectors import pages, views

app_name = "connectors"

urlpatterns = [
    path("", pages.connectors_page, name="page"),
    path("replay/", pages.replay, name="replay-dead-letters"),
    path("<int:connector_id>/inbound/", views.inbound, name="inbound"),
]
