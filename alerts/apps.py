from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"

    def ready(self) -> None:
        # Registers the tasks that reactions and services queue by name (alerts.dispatch).
        from alerts import notifications_tasks, tasks  # noqa: F401
        from alerts.api.errors import register_alert_errors
        from alerts.hooks import on_alerts_changed
        from alerts.reactions import evaluate_touched_levels, evaluate_touched_variants
        from alerts.services.notify import note_alert_changes
        from alerts.views.panels import connect_pages
        from stock.events import on_stock_committed, on_variants_committed

        # After commit, never in the writer's transaction: note the touched ids, and one
        # debounced task evaluates them (docs/alerts.md, "Rules and conditions").
        on_stock_committed(evaluate_touched_levels)
        on_variants_committed(evaluate_touched_variants)
        # The evaluating worker then schedules the groups of what fired or resolved
        # (docs/alerts.md, "Notifications").
        on_alerts_changed(note_alert_changes)
        # The API's error handler is in the shared kit, which imports no app.
        register_alert_errors()
        # The overview's alerts tile, and live Alerts pages (docs/dashboard.md).
        connect_pages()
