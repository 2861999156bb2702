"""The Alerts page's buttons: acknowledge, silence (and end a silence), resolve, and a
receiver's test message.

Every POST asks the role policy again (alerts.access), whatever buttons the page showed: a
viewer, or a manager for another warehouse's alert, gets 403 and nothing changes. A
refusal of the service (the alert resolved meanwhile, a silence it will not take) answers
422 with its message; the service being one transaction, nothing was written. The
overview's tile posts with `view=tile` and gets the tile back.
"""

from __future__ import annotations

from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from alerts.access import may_acknowledge, may_configure_alerts
from alerts.errors import AlertError
from alerts.models import Alert, Receiver, Silence
from alerts.services import (
    acknowledge_alert,
    create_silence,
    expire_silence,
    resolve_alert,
    send_test_message,
)
from alerts.views.forms import SilenceForm
from alerts.views.fragments import Result, receivers_context, render_tile, silence_matchers
from alerts.views.pages import alerts_response
from inventory_hub.htmx import HtmxHttpRequest
from inventory_hub.shell.views import dashboard_view
from stock.actors import Actor

REFUSED = "Your role may not {verb} this alert; nothing was changed."


def _answer(
    request: HtmxHttpRequest, result: Result, *, status: int = 200, bound=None
) -> HttpResponse:
    if request.POST.get("view") == "tile":
        warehouse = request.POST.get("warehouse", "")
        html = render_tile(int(warehouse) if warehouse.isdigit() else None, result=result)
        return HttpResponse(html, status=status)
    if not request.htmx and status == 200:
        return HttpResponseRedirect(reverse("alerts:list"))
    return alerts_response(request, result=result, status=status, bound=bound)


def _not_found(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _answer(request, Result(f"There is no alert {pk}.", False), status=404)


@require_POST
@dashboard_view
def acknowledge(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    alert = Alert.objects.select_related("rule").filter(pk=pk).first()
    if alert is None:
        return _not_found(request, pk)
    if not may_acknowledge(request.user, alert):
        refused = Result(REFUSED.format(verb="acknowledge"), False, alert.pk)
        return _answer(request, refused, status=403)
    try:
        acknowledge_alert(alert=alert, actor=Actor.for_user(request.user))
    except AlertError as error:
        return _answer(request, Result(f"{error.message} Nothing was changed.", False), status=422)
    return _answer(request, Result(f"Acknowledged: {alert.summary}.", True, alert.pk))


@require_POST
@dashboard_view
def silence(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    alert = Alert.objects.select_related("rule").filter(pk=pk).first()
    if alert is None:
        return _not_found(request, pk)
    if not may_acknowledge(request.user, alert):
        return _answer(request, Result(REFUSED.format(verb="silence"), False, alert.pk), status=403)
    form = SilenceForm(request.POST)
    if not form.is_valid():
        problems = "; ".join(
            f"{form.fields[name].label}: {' '.join(str(error) for error in errors)}"
            for name, errors in form.errors.items()
        )
        refused = Result(f"{problems} Nothing was silenced.", False, alert.pk)
        return _answer(request, refused, status=422, bound=form)
    matchers = silence_matchers(alert)
    try:
        made = create_silence(
            matchers=matchers,
            author=Actor.for_user(request.user),
            reason=form.cleaned_data["reason"],
            ends_at=timezone.now() + form.duration(),
        )
    except AlertError as error:
        refused = Result(f"{error.message} Nothing was silenced.", False, alert.pk)
        return _answer(request, refused, status=422, bound=form)
    until = timezone.localtime(made.ends_at).strftime("%Y-%m-%d %H:%M")
    what = ", ".join(f"{name}={value}" for name, value in matchers.items())
    return _answer(request, Result(f"Silenced until {until}: {what}.", True, alert.pk))


@require_POST
@dashboard_view
def end_silence(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """End a silence now (ops staff: a silence may cover other warehouses' alerts)."""
    held = Silence.objects.filter(pk=pk).first()
    if held is None:
        return _answer(request, Result(f"There is no silence {pk}.", False), status=404)
    if not may_configure_alerts(request.user):
        refused = Result("Your role may not end silences; nothing was changed.", False)
        return _answer(request, refused, status=403)
    if held.ends_at <= timezone.now():
        return _answer(request, Result("The silence has already ended.", False), status=422)
    expire_silence(silence=held, actor=Actor.for_user(request.user))
    return _answer(request, Result(f"Silence by {held.author} ended: {held.reason}."))


@require_POST
@dashboard_view
def resolve(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    alert = Alert.objects.select_related("rule").filter(pk=pk).first()
    if alert is None:
        return _not_found(request, pk)
    if not may_configure_alerts(request.user):
        return _answer(request, Result(REFUSED.format(verb="resolve"), False, alert.pk), status=403)
    try:
        resolve_alert(alert=alert, actor=Actor.for_user(request.user))
    except AlertError as error:
        return _answer(request, Result(f"{error.message} Nothing was changed.", False), status=422)
    return _answer(request, Result(f"Resolved by hand: {alert.summary}.", True, alert.pk))


def _receivers(request: HtmxHttpRequest, result: Result, receiver_id: int, status: int):
    context = {
        **receivers_context(result=result, receiver_id=receiver_id),
        "may_manage": may_configure_alerts(request.user),
    }
    return render(request, "alerts/partials/receivers.html", context, status=status)


@require_POST
@dashboard_view
def test_message(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """A TEST notification to one receiver, delivered like any other (see the delivery log)."""
    receiver = Receiver.objects.filter(pk=pk).first()
    if receiver is None:
        return _receivers(request, Result(f"There is no receiver {pk}.", False), pk, 404)
    if not may_configure_alerts(request.user):
        refused = Result("Your role may not send test messages; nothing was sent.", False)
        return _receivers(request, refused, pk, 403)
    try:
        notification = send_test_message(receiver=receiver, actor=Actor.for_user(request.user))
    except AlertError as error:
        return _receivers(request, Result(f"{error.message} Nothing was sent.", False), pk, 422)
    message = f"Test message {notification.pk} queued for {receiver.name}."
    return _receivers(request, Result(message), pk, 200)
