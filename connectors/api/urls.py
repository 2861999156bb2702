from django.urls import path

from . import views

urlpatterns = [
    path("connectors/", views.ConnectorListView.as_view(), name="connectors"),
    path("connectors/<int:pk>/", views.ConnectorDetailView.as_view(), name="connector"),
    path(
        "connectors/<int:pk>/health/",
        views.ConnectorHealthView.as_view(),
        name="connector-health",
    ),
    path(
        "connectors/<int:pk>/mappings/",
        views.ConnectorMappingsView.as_view(),
        name="connector-mappings",
    ),
    path(
        "connectors/<int:pk>/reconciliations/",
        views.ReconciliationListView.as_view(),
        name="connector-reconciliations",
    ),
    path(
        "connectors/<int:pk>/reconciliations/<int:report_id>/",
        views.ReconciliationDetailView.as_view(),
        name="connector-reconciliation",
    ),
    path("connectors/<int:pk>/drift/", views.ConnectorDriftView.as_view(), name="connector-drift"),
    path("connectors/<int:pk>/test/", views.TestConnectionView.as_view(), name="connector-test"),
    path("connectors/<int:pk>/sync/", views.SyncNowView.as_view(), name="connector-sync"),
    path(
        "connectors/<int:pk>/reconcile/",
        views.ReconcileNowView.as_view(),
        name="connector-reconcile",
    ),
    path("connectors/<int:pk>/setup/", views.SetupView.as_view(), name="connector-setup"),
    path("connectors/<int:pk>/archive/", views.ArchiveView.as_view(), name="connector-archive"),
    path("connectors/<int:pk>/restore/", views.RestoreView.as_view(), name="connector-restore"),
    path("connectors/<int:pk>/feed/", views.FeedUploadView.as_view(), name="connector-feed"),
    path(
        "connectors/<int:pk>/replay-dead-letters/",
        views.ReplayDeadLettersView.as_view(),
        name="connector-replay-dead-letters",
    ),
]
