from django.urls import path

from .views import alerts, notifications, receivers, rules, silences

urlpatterns = [
    path("alerts/", alerts.AlertListView.as_view(), name="alerts"),
    path("alerts/<int:pk>/", alerts.AlertDetailView.as_view(), name="alert"),
    path(
        "alerts/<int:pk>/acknowledge/",
        alerts.AcknowledgeAlertView.as_view(),
        name="alert-acknowledge",
    ),
    path("alerts/<int:pk>/resolve/", alerts.ResolveAlertView.as_view(), name="alert-resolve"),
    path("alert-rules/", rules.RuleListView.as_view(), name="alert-rules"),
    path("alert-rules/<int:pk>/", rules.RuleDetailView.as_view(), name="alert-rule"),
    path(
        "alert-rules/<int:pk>/preview/",
        rules.RulePreviewView.as_view(),
        name="alert-rule-preview",
    ),
    path("alert-receivers/", receivers.ReceiverListView.as_view(), name="alert-receivers"),
    path(
        "alert-receivers/<int:pk>/",
        receivers.ReceiverDetailView.as_view(),
        name="alert-receiver",
    ),
    path(
        "alert-receivers/<int:pk>/test/",
        receivers.ReceiverTestView.as_view(),
        name="alert-receiver-test",
    ),
    path("alert-routes/", receivers.RouteListView.as_view(), name="alert-routes"),
    path("alert-routes/<int:pk>/", receivers.RouteDetailView.as_view(), name="alert-route"),
    path(
        "alert-escalation-steps/",
        receivers.EscalationStepListView.as_view(),
        name="alert-escalation-steps",
    ),
    path(
        "alert-escalation-steps/<int:pk>/",
        receivers.EscalationStepDetailView.as_view(),
        name="alert-escalation-step",
    ),
    path("silences/", silences.SilenceListView.as_view(), name="silences"),
    path("silences/<int:pk>/", silences.SilenceDetailView.as_view(), name="silence"),
    path("silences/<int:pk>/expire/", silences.ExpireSilenceView.as_view(), name="silence-expire"),
    path(
        "alert-notifications/",
        notifications.NotificationListView.as_view(),
        name="alert-notifications",
    ),
    path(
        "alert-notifications/<uuid:pk>/",
        notifications.NotificationDetailView.as_view(),
        name="alert-notification",
    ),
]
