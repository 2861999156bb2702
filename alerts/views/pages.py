"""The Alerts page and the rule editor (GET, and the rule form's POST)."""

from __future__ import annotations

from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_http_methods, require_POST

from alerts.access import may_configure_alerts
from alerts.errors import InvalidRule
from alerts.models import Rule
from alerts.preview import preview_rule
from alerts.services import create_rule, update_rule
from alerts.views.forms import RuleForm
from alerts.views.fragments import Result, alerts_context, receivers_context, rules_context
from inventory_hub.htmx import HtmxHttpRequest
from inventory_hub.shell.views import dashboard_view
from stock.actors import Actor

LIVE_URL = "/ws/live/alerts/"


def alerts_response(
    request: HtmxHttpRequest, *, result: Result | None = None, status: int = 200, bound=None
) -> HttpResponse:
    """The page, or its live region alone for HTMX (a button's answer, a resync)."""
    context = {
        **alerts_context(request.user, result=result, bound=bound),
        "live_url": LIVE_URL,
    }
    if request.htmx and (request.method == "POST" or request.htmx.target == "live-region"):
        response = render(request, "alerts/partials/alerts_region.html", context, status=status)
    else:
        response = render(request, "alerts/list.html", context, status=status)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


@dashboard_view
def alerts_page(request: HtmxHttpRequest) -> HttpResponse:
    return alerts_response(request)


@dashboard_view
def rules_page(request: HtmxHttpRequest) -> HttpResponse:
    context = {
        **rules_context(),
        **receivers_context(),
        "may_manage": may_configure_alerts(request.user),
    }
    return render(request, "alerts/rules.html", context)


def _forbidden(request: HtmxHttpRequest, what: str) -> HttpResponse:
    return render(request, "alerts/forbidden.html", {"what": what}, status=403)


def _rule_page(
    request: HtmxHttpRequest, form: RuleForm, rule: Rule | None, *, error: str = "", status=200
) -> HttpResponse:
    context = {"form": form, "rule": rule, "error": error}
    return render(request, "alerts/rule_form.html", context, status=status)


@require_http_methods(["GET", "POST"])
@dashboard_view
def rule_form(request: HtmxHttpRequest, pk: int | None = None) -> HttpResponse:
    """A new rule, or one to change; saved through create_rule or update_rule."""
    rule = Rule.objects.filter(pk=pk).first() if pk is not None else None
    if pk is not None and rule is None:
        return render(request, "alerts/not_found.html", {"pk": pk}, status=404)
    if not may_configure_alerts(request.user):
        return _forbidden(request, "change alert rules")
    if request.method == "GET":
        return _rule_page(request, RuleForm(rule=rule), rule)
    form = RuleForm(request.POST, rule=rule)
    if not form.is_valid():
        return _rule_page(request, form, rule, status=422)
    values = form.rule_values()
    try:
        if rule is None:
            create_rule(actor=Actor.for_user(request.user), **values)
        else:
            values.pop("condition")
            update_rule(rule=rule, **values)
    except InvalidRule as error:
        field = error.details.get("field")
        if isinstance(field, str) and field in form.fields:
            form.add_error(field, error.message)
        elif field == "variant":
            form.add_error("sku", error.message)
        return _rule_page(
            request, form, rule, error=f"{error.message} Nothing was saved.", status=422
        )
    return HttpResponseRedirect(reverse("alerts:rules"))


@require_POST
@dashboard_view
def rule_preview(request: HtmxHttpRequest, pk: int | None = None) -> HttpResponse:
    """What the rule in the form would see now, and who would be told. Writes nothing."""
    if not may_configure_alerts(request.user):
        return _forbidden(request, "preview alert rules")
    rule = Rule.objects.filter(pk=pk).first() if pk is not None else None
    form = RuleForm(request.POST, rule=rule)
    preview = preview_rule(unsaved_rule(form.rule_values(), rule)) if form.is_valid() else None
    return render(request, "alerts/partials/rule_preview.html", {"preview": preview, "form": form})


# What a rule's form gives create_rule/update_rule, as an unsaved Rule to preview.
RULE_VALUES = (
    "name",
    "condition",
    "variant",
    "product",
    "warehouse",
    "channel",
    "connector",
    "threshold",
    "hysteresis",
    "pending_seconds",
    "severity",
    "labels",
    "params",
)


def unsaved_rule(values: dict, rule: Rule | None) -> Rule:
    """The rule as the form would save it, never saved: its own id when editing (so the
    preview shows its existing alerts), none when new."""
    preview = Rule(**{name: values[name] for name in RULE_VALUES if name in values})
    preview.pk = rule.pk if rule is not None else None
    preview.params = dict(preview.params or {})
    preview.labels = dict(preview.labels or {})
    return preview
