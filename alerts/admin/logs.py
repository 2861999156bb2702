"""Alerts, silences and the delivery log. Alerts and notifications are read-only, moved on
only by actions that call a service per alert; silences are created and expired through
theirs, the author being the user."""

from collections.abc import Callable

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from alerts.access import (
    may_acknowledge,
    may_acknowledge_some,
    may_configure_alerts,
    may_expire,
    may_silence,
)
from alerts.errors import AlertError
from alerts.models import Alert, DeliveryAttempt, Notification, Silence
from alerts.services import acknowledge_alert, create_silence, expire_silence, resolve_alert
from inventory_hub.admin_kit import adopt_saved
from stock.actors import Actor

from .forms import ServiceForm


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class AcknowledgedFilter(admin.SimpleListFilter):
    title = "acknowledged"
    parameter_name = "acknowledged"

    def lookups(self, request, model_admin):
        return [("yes", "Acknowledged"), ("no", "Not acknowledged")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(acknowledged_at__isnull=self.value() == "no")
        return queryset


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = [
        "summary",
        "state",
        "severity",
        "rule",
        "warehouse",
        "channel",
        "started_at",
        "acknowledged_at",
    ]
    list_filter = [
        "state",
        "rule__severity",
        "rule__condition",
        AcknowledgedFilter,
        "warehouse",
        "channel",
    ]
    list_select_related = ["rule", "warehouse", "channel"]
    search_fields = ["summary", "fingerprint", "variant__sku"]
    date_hierarchy = "started_at"
    actions = ["acknowledge_selected", "resolve_selected"]

    @admin.display(description="severity", ordering="rule__severity")
    def severity(self, alert: Alert) -> str:
        return alert.rule.severity

    def has_acknowledge_permission(self, request: HttpRequest) -> bool:
        return may_acknowledge_some(request.user)

    def has_resolve_permission(self, request: HttpRequest) -> bool:
        return may_configure_alerts(request.user)

    @admin.action(description="Acknowledge (stops the escalation)", permissions=["acknowledge"])
    def acknowledge_selected(self, request: HttpRequest, queryset: QuerySet[Alert]) -> None:
        self._each(request, queryset, acknowledge_alert, "acknowledged")

    @admin.action(description="Resolve by hand", permissions=["resolve"])
    def resolve_selected(self, request: HttpRequest, queryset: QuerySet[Alert]) -> None:
        self._each(request, queryset, resolve_alert, "resolved")

    def _each(
        self,
        request: HttpRequest,
        queryset: QuerySet[Alert],
        service: Callable[..., Alert],
        done: str,
    ) -> None:
        """Each alert in its own transaction: one refusal leaves the others' outcome."""
        actor = Actor.for_user(request.user)
        count = 0
        for alert in queryset.select_related("warehouse").order_by("pk"):
            if not may_acknowledge(request.user, alert):
                self.message_user(
                    request, f"{alert}: not one of your warehouses' alerts.", messages.ERROR
                )
                continue
            try:
                service(alert=alert, actor=actor)
            except AlertError as error:
                self.message_user(request, f"{alert}: {error.message}", messages.ERROR)
                continue
            count += 1
        if count:
            self.message_user(request, f"{count} alert(s) {done}.", messages.SUCCESS)


class SilenceForm(ServiceForm):
    actor: Actor

    class Meta:
        model = Silence
        fields = ["matchers", "reason", "starts_at", "ends_at"]

    def save_through_service(self) -> Silence:
        data = self.cleaned_data
        return create_silence(
            matchers=data["matchers"] or {},
            author=self.actor,
            reason=data["reason"],
            starts_at=data["starts_at"],
            ends_at=data["ends_at"],
        )


@admin.register(Silence)
class SilenceAdmin(admin.ModelAdmin):
    form = SilenceForm
    list_display = ["__str__", "matchers", "reason", "author", "starts_at", "ends_at", "active"]
    search_fields = ["reason", "author"]
    actions = ["expire_selected"]

    @admin.display(boolean=True, description="in force")
    def active(self, silence: Silence) -> bool:
        return silence.starts_at <= timezone.now() < silence.ends_at

    def get_form(self, request: HttpRequest, obj=None, change: bool = False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        # The form saves through a service, as the user.
        return type(form.__name__, (form,), {"actor": Actor.for_user(request.user)})

    def get_changeform_initial_data(self, request: HttpRequest) -> dict:
        return {"starts_at": timezone.now()}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return may_silence(request.user)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_expire_permission(self, request: HttpRequest) -> bool:
        return may_silence(request.user)

    def save_model(self, request: HttpRequest, obj: Silence, form, change: bool) -> None:
        adopt_saved(obj, form.saved)

    @admin.action(description="Expire now", permissions=["expire"])
    def expire_selected(self, request: HttpRequest, queryset: QuerySet[Silence]) -> None:
        actor = Actor.for_user(request.user)
        count = 0
        for silence in queryset.order_by("pk"):
            if not may_expire(request.user, silence):
                self.message_user(
                    request, f"{silence}: a manager expires only their own.", messages.ERROR
                )
                continue
            expire_silence(silence=silence, actor=actor)
            count += 1
        if count:
            self.message_user(request, f"{count} silence(s) expired.", messages.SUCCESS)


class AttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    fields = readonly_fields = ("at", "ok", "response", "error", "duration_ms")
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    """The delivery log."""

    list_display = ["id", "kind", "receiver", "status", "attempts", "created_at", "sent_at"]
    list_filter = ["status", "kind", "receiver"]
    list_select_related = ["receiver"]
    date_hierarchy = "created_at"
    inlines = [AttemptInline]
    exclude = ["alerts"]
    readonly_fields = ["alert_list"]

    @admin.display(description="alerts")
    def alert_list(self, notification: Notification) -> str:
        return ", ".join(str(alert) for alert in notification.alerts.all()[:50])
