"""Rules, receivers, routes and escalation steps: saved through their services, never
deleted (alerts and notifications refer to them; `is_active` retires a rule, a receiver
or a route)."""

from django import forms
from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from alerts.models import EscalationStep, Receiver, Route, Rule
from alerts.services import (
    create_rule,
    save_escalation_step,
    save_receiver,
    save_route,
    update_rule,
)
from alerts.services.rules import RULE_FIELDS
from inventory_hub.admin_kit import adopt_saved
from stock.actors import Actor

from .forms import ServiceForm


class ThroughServiceAdmin(admin.ModelAdmin):
    """Saves what the form's service call saved; deletes nothing."""

    # The fields fixed once the record exists (the service refuses to change them).
    fixed_fields: tuple[str, ...] = ()

    def get_form(self, request: HttpRequest, obj=None, change: bool = False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        # The form saves through a service, as the user.
        return type(form.__name__, (form,), {"actor": Actor.for_user(request.user)})

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> list:
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, *self.fixed_fields] if obj is not None else fields

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Model, form, change: bool) -> None:
        adopt_saved(obj, form.saved)


class RuleForm(ServiceForm):
    actor: Actor

    class Meta:
        model = Rule
        fields = sorted(RULE_FIELDS)

    def save_through_service(self) -> Rule:
        values = {name: self.value_of(name) for name in RULE_FIELDS if name in self.fields}
        if self.instance.pk is None:
            return create_rule(actor=self.actor, **values)
        changes = {name: values[name] for name in self.changed_data if name in values}
        return update_rule(rule=self.instance, **changes)


@admin.register(Rule)
class RuleAdmin(ThroughServiceAdmin):
    form = RuleForm
    fixed_fields = ("condition",)
    list_display = ["name", "condition", "severity", "threshold", "warehouse", "is_active"]
    list_filter = ["is_active", "condition", "severity"]
    list_select_related = ["warehouse"]
    search_fields = ["name"]
    raw_id_fields = ["variant", "product", "connector"]
    readonly_fields = ["created_by", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "condition", "severity", "is_active"]}),
        ("Scope (none set: every subject)", {"fields": ["variant", "product", "warehouse"]}),
        (None, {"fields": ["channel", "connector"]}),
        ("When", {"fields": ["threshold", "hysteresis", "pending_seconds", "params"]}),
        ("Routing", {"fields": ["labels"]}),
        ("History", {"fields": ["created_by", "created_at", "updated_at"]}),
    ]


class ReceiverForm(ServiceForm):
    secret = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False),
        help_text="Write-only: a Slack incoming-webhook URL or a webhook's whsec_ signing "
        "secret. Left blank, the stored one is kept (a new webhook gets a fresh one).",
    )

    class Meta:
        model = Receiver
        fields = ["name", "kind", "config", "send_resolved", "is_active"]

    def save_through_service(self) -> Receiver:
        existing = self.instance if self.instance.pk is not None else None
        return save_receiver(
            receiver=existing,
            name=self.cleaned_data["name"],
            kind=str(self.value_of("kind")),
            config=self.value_of("config", {}),  # type: ignore[arg-type]
            secret=self.cleaned_data.get("secret") or None,
            send_resolved=self.cleaned_data["send_resolved"],
            is_active=self.cleaned_data["is_active"],
        )


@admin.register(Receiver)
class ReceiverAdmin(ThroughServiceAdmin):
    form = ReceiverForm
    fixed_fields = ("kind",)
    list_display = ["name", "kind", "has_secret", "send_resolved", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name"]
    fields = ["name", "kind", "config", "secret", "has_secret", "send_resolved", "is_active"]
    readonly_fields = ["has_secret"]

    @admin.display(boolean=True, description="secret stored")
    def has_secret(self, receiver: Receiver) -> bool:
        return bool(receiver.secret)


class RouteForm(ServiceForm):
    class Meta:
        model = Route
        fields = [
            "name",
            "position",
            "receiver",
            "matchers",
            "continue_matching",
            "group_by",
            "group_wait_seconds",
            "group_interval_seconds",
            "repeat_steps_seconds",
            "is_active",
        ]

    def save_through_service(self) -> Route:
        data = self.cleaned_data
        return save_route(
            route=self.instance if self.instance.pk is not None else None,
            name=data["name"],
            receiver=data["receiver"],
            position=data["position"],
            matchers=data["matchers"] or {},
            continue_matching=data["continue_matching"],
            group_by=data["group_by"] or [],
            group_wait_seconds=data["group_wait_seconds"],
            group_interval_seconds=data["group_interval_seconds"],
            repeat_steps_seconds=data["repeat_steps_seconds"] or [],
            is_active=data["is_active"],
        )


@admin.register(Route)
class RouteAdmin(ThroughServiceAdmin):
    form = RouteForm
    list_display = ["name", "position", "receiver", "matchers", "continue_matching", "is_active"]
    list_filter = ["is_active", "receiver"]
    list_select_related = ["receiver"]


class EscalationStepForm(ServiceForm):
    class Meta:
        model = EscalationStep
        fields = ["severity", "position", "after_minutes", "receiver"]

    def save_through_service(self) -> EscalationStep:
        return save_escalation_step(
            severity=str(self.value_of("severity")),
            position=int(self.value_of("position")),  # type: ignore[call-overload]
            after_minutes=self.cleaned_data["after_minutes"],
            receiver=self.cleaned_data["receiver"],
        )


@admin.register(EscalationStep)
class EscalationStepAdmin(ThroughServiceAdmin):
    form = EscalationStepForm
    fixed_fields = ("severity", "position")
    list_display = ["severity", "position", "after_minutes", "receiver"]
    list_filter = ["severity"]
    list_select_related = ["receiver"]
