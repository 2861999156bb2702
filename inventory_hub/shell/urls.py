from django.urls import path

from inventory_hub.shell import views

app_name = "shell"

urlpatterns = [
    path("login/", views.login, name="login"),
    path("logout/", views.logout, name="logout"),
]
