"""The Django admin of suggestions, for ops staff; others with admin access only read it.

Nothing here writes a model itself: the settings are saved through `update_settings`, and
the suggestions' actions call `approve_suggestions` (one transfer per lane, each lane
asked first whether the user may approve transfers between its warehouses) and
`dismiss_suggestion`. Reviews, suggestions and forecasts are read-only.
"""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect

from inventory_hub.admin_kit import adopt_saved, changed_fields
from stock.actors import Actor
from suggestions.errors import SuggestionError
from suggestions.models import Forecast, Review, Suggestion, SuggestionSettings, SuggestionState
from suggestions.services.decisions import approve_suggestions, dismiss_suggestion
from suggestions.services.settings import SETTINGS_FIELDS, update_settings
from transfers.access import Action, may_act_between


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class SettingsRefused(Exception):
    def __init__(self, error: SuggestionError) -> None:
        super().__init__(error.message)
        self.error = error


OWN_PAGES = "suggestions_suggestionsettings_"


@admin.register(SuggestionSettings)
class SuggestionSettingsAdmin(admin.ModelAdmin):
    """The one row of settings; added once, changed through `update_settings`."""

    list_display = ["__str__", "cost_of_lost_sale", "review_days", "service_level", "updated_at"]
    fields = [
        "cost_of_lost_sale",
        "review_days",
        "source_cover_days",
        "service_level",
        "history_days",
        "updated_at",
    ]
    readonly_fields = ["updated_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Asked by every admin page for the sidebar's "Add" links: only this model's own pages
        # pay the query that tells whether the one row exists yet.
        match = request.resolver_match
        if match is None or not (match.url_name or "").startswith(OWN_PAGES):
            return False
        return super().has_add_permission(request) and not SuggestionSettings.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: SuggestionSettings, form, change: bool):
        if change:
            values = changed_fields(obj, form, SETTINGS_FIELDS)
        else:
            values = {name: getattr(obj, name) for name in SETTINGS_FIELDS}
        try:
            saved = update_settings(actor=Actor.for_user(request.user), **values)
        except SuggestionError as error:
            raise SettingsRefused(error) from error
        adopt_saved(obj, saved)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except SettingsRefused as refused:
            self.message_user(
                request, f"Nothing was saved: {refused.error.message}", messages.ERROR
            )
            return HttpResponseRedirect(request.get_full_path())


@admin.register(Review)
class ReviewAdmin(ReadOnlyAdmin):
    list_display = [
        "started_at",
        "kind",
        "variants_considered",
        "suggestions_made",
        "runtime_ms",
        "cost_of_lost_sale",
    ]
    list_filter = ["kind"]
    date_hierarchy = "started_at"


class StateListFilter(admin.SimpleListFilter):
    """Open suggestions unless asked otherwise: those are the ones to decide."""

    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [*SuggestionState.choices, ("all", "All")]

    def choices(self, changelist):
        for value, label in self.lookup_choices:
            yield {
                "selected": (self.value() or SuggestionState.OPEN) == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request, queryset):
        value = self.value() or SuggestionState.OPEN
        return queryset if value == "all" else queryset.filter(state=value)


@admin.register(Suggestion)
class SuggestionAdmin(ReadOnlyAdmin):
    list_display = [
        "pk",
        "variant",
        "route",
        "quantity",
        "state",
        "expected_arrival",
        "value",
        "cost",
        "limited_by",
        "review",
    ]
    list_filter = [StateListFilter, "source", "destination", "review__kind"]
    list_select_related = ["variant", "source", "destination", "review"]
    search_fields = ["variant__sku", "reason_text"]
    actions = ["approve_selected", "dismiss_selected"]
    fields = [
        "review",
        "variant",
        "source",
        "destination",
        "lane",
        "quantity",
        "expected_arrival",
        "value",
        "cost",
        "reason_text",
        "reason",
        "state",
        "transfer",
        "created_at",
        "decided_at",
        "decided_by_label",
    ]

    @admin.display(description="route", ordering="source__code")
    def route(self, suggestion: Suggestion) -> str:
        return f"{suggestion.source.code} → {suggestion.destination.code}"

    @admin.display(description="limited by")
    def limited_by(self, suggestion: Suggestion) -> str:
        return str(suggestion.reason.get("limited_by", ""))

    def has_act_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("suggestions.change_suggestion")

    def _allowed(
        self, request: HttpRequest, queryset: QuerySet[Suggestion], action: Action
    ) -> list[Suggestion]:
        allowed = []
        for suggestion in queryset.select_related("variant", "source", "destination"):
            if may_act_between(
                request.user,
                action,
                source_id=suggestion.source_id,
                destination_id=suggestion.destination_id,
            ):
                allowed.append(suggestion)
            else:
                self.message_user(
                    request,
                    f"Suggestion {suggestion.pk}: you may not decide transfers from "
                    f"{suggestion.source.code} to {suggestion.destination.code}.",
                    messages.ERROR,
                )
        return allowed

    @admin.action(
        description="Approve: one transfer per lane, held at the source", permissions=["act"]
    )
    def approve_selected(self, request: HttpRequest, queryset: QuerySet[Suggestion]) -> None:
        allowed = self._allowed(request, queryset, Action.APPROVE)
        if not allowed:
            return
        result = approve_suggestions(
            suggestion_ids=[s.pk for s in allowed], actor=Actor.for_user(request.user)
        )
        for transfer in result.transfers:
            self.message_user(
                request,
                f"{transfer.reference}: transfer created and approved, "
                f"{transfer.lines.count()} line(s) held at the source.",
                messages.SUCCESS,
            )
        for refusal in result.refusals:
            self.message_user(request, f"Nothing approved on {refusal}", messages.ERROR)
        if result.skipped_ids:
            self.message_user(
                request,
                f"{len(result.skipped_ids)} suggestion(s) were not open any more.",
                messages.WARNING,
            )

    @admin.action(
        description="Dismiss: not suggested again until things change", permissions=["act"]
    )
    def dismiss_selected(self, request: HttpRequest, queryset: QuerySet[Suggestion]) -> None:
        actor = Actor.for_user(request.user)
        dismissed = 0
        for suggestion in self._allowed(request, queryset.order_by("pk"), Action.CREATE):
            try:
                dismiss_suggestion(suggestion_id=suggestion.pk, actor=actor)
            except SuggestionError as error:
                self.message_user(request, f"Suggestion {suggestion.pk}: {error}", messages.ERROR)
            else:
                dismissed += 1
        if dismissed:
            self.message_user(request, f"Dismissed {dismissed} suggestion(s).", messages.SUCCESS)


@admin.register(Forecast)
class ForecastAdmin(ReadOnlyAdmin):
    list_display = [
        "variant",
        "warehouse",
        "demand_class",
        "method",
        "daily_demand",
        "daily_error",
        "safety_stock",
        "reorder_point",
        "lead_time_days",
        "computed_at",
    ]
    list_filter = ["demand_class", "method", "warehouse"]
    list_select_related = ["variant", "warehouse"]
    search_fields = ["variant__sku"]
