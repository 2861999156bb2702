from django.urls import path

from suggestions import views

app_name = "suggestions"

urlpatterns = [
    path("", views.suggestions_page, name="list"),
    path("<int:pk>/approve/", views.approve, name="approve"),
    path("<int:pk>/dismiss/", views.dismiss, name="dismiss"),
    path("lanes/<int:lane_id>/approve/", views.approve_lane_view, name="approve-lane"),
    path("approve-all/", views.approve_all_view, name="approve-all"),
    path("settings/", views.save_settings, name="settings"),
]
