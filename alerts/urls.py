from django.urls import path

from alerts import views

app_name = "alerts"

urlpatterns = [
    path("", views.alerts_page, name="list"),
    path("<int:pk>/acknowledge/", views.acknowledge, name="acknowledge-alert"),
    path("<int:pk>/silence/", views.silence, name="silence"),
    path("<int:pk>/resolve/", views.resolve, name="resolve"),
    path("silences/<int:pk>/expire/", views.end_silence, name="expire-silence"),
    path("rules/", views.rules_page, name="rules"),
    path("rules/new/", views.rule_form, name="rule-new"),
    path("rules/<int:pk>/", views.rule_form, name="rule-edit"),
    path("rules/preview/", views.rule_preview, name="rule-preview"),
    path("rules/<int:pk>/preview/", views.rule_preview, name="rule-edit-preview"),
    path("receivers/<int:pk>/test/", views.test_message, name="test-message"),
    path("ack/<str:token>", views.acknowledge_link, name="acknowledge"),
]
