from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"

    def ready(self) -> None:
        from alerts import notifications_tasks  # noqa: F401  (registers the notifier's tasks)
