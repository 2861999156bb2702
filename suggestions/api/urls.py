from django.urls import path

from suggestions.api import decisions, outlook, views

urlpatterns = [
    path("suggestions/", views.SuggestionListView.as_view(), name="suggestions"),
    path("suggestions/lanes/", views.SuggestionLaneListView.as_view(), name="suggestion-lanes"),
    path(
        "suggestions/lanes/<int:lane_id>/approve/",
        decisions.ApproveLaneView.as_view(),
        name="suggestion-lane-approve",
    ),
    path(
        "suggestions/approve-all/",
        decisions.ApproveAllView.as_view(),
        name="suggestions-approve-all",
    ),
    path("suggestions/<int:pk>/", views.SuggestionDetailView.as_view(), name="suggestion"),
    path(
        "suggestions/<int:pk>/approve/",
        decisions.ApproveSuggestionView.as_view(),
        name="suggestion-approve",
    ),
    path(
        "suggestions/<int:pk>/dismiss/",
        decisions.DismissSuggestionView.as_view(),
        name="suggestion-dismiss",
    ),
    path(
        "variants/<str:sku>/outlook/",
        outlook.VariantOutlookView.as_view(),
        name="variant-outlook",
    ),
    path("suggestion-settings/", views.SettingsView.as_view(), name="suggestion-settings"),
]
