from django.urls import path

from . import views

urlpatterns = [
    path("warehouses/", views.WarehouseListView.as_view(), name="warehouses"),
    path("warehouses/<str:code>/", views.WarehouseDetailView.as_view(), name="warehouse"),
    path(
        "warehouses/<str:code>/deactivate/",
        views.WarehouseDeactivateView.as_view(),
        name="warehouse-deactivate",
    ),
    path("channels/", views.ChannelListView.as_view(), name="channels"),
    path("channels/<str:code>/", views.ChannelDetailView.as_view(), name="channel"),
    path(
        "channels/<str:code>/deactivate/",
        views.ChannelDeactivateView.as_view(),
        name="channel-deactivate",
    ),
]
