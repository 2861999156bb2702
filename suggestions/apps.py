from django.apps import AppConfig


class SuggestionsConfig(AppConfig):
    name = "suggestions"

    def ready(self) -> None:
        from stock.events import on_stock_committed

        # Registers the tasks that reactions queue by name (suggestions.reactions); the
        # module itself loads neither the forecasting library nor the solver.
        from suggestions import tasks  # noqa: F401
        from suggestions.errors import register_suggestion_errors
        from suggestions.reactions import note_touched_variants
        from suggestions.views.panels import connect_pages

        # After commit, never in the writer's transaction: note the touched variants, and
        # one debounced check queues a reactive review of those at risk.
        on_stock_committed(note_touched_variants)
        # The API's error handler is in the shared kit, which imports no app.
        register_suggestion_errors()
        # Stock's pages show what suggestions register (inventory_hub.shell.panels).
        connect_pages()
