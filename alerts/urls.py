from django.urls import path

from alerts import views

app_name = "alerts"

urlpatterns = [
    path("ack/<str:token>", views.acknowledge_link, name="acknowledge"),
]
