"""The connectors page: each store's sync health, dead letters to replay, reconciliations.

A live dashboard page that lives here, not in stock, so that stock never depends on
connectors; it builds on the dashboard shell (inventory_hub.shell: the base template, the
page guard and the live consumer) and asks the role policy (warehouses.access). Read
through this app's models and selectors (connector_health: the queue depths the admin and
the API show); a replay goes through its service, connectors.inbound.queue.replay_dead_letters, as
the admin's and the API's do. The engine publishes no events of its own: the page's socket
re-reads these tables every few seconds and on every stock change (which queues pushes),
and pushes the region only when it changed.
"""

from dataclasses import dataclass

from django import forms
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_POST

from connectors.inbound.queue import replay_dead_letters
from connectors.models import Connector, InboxEvent, InboxState, ReconciliationReport
from connectors.selectors import ConnectorHealth, connector_health
from connectors.sync.selectors import PushState, failed_poll_parts, push_state
from inventory_hub.htmx import HtmxHttpRequest
from inventory_hub.shell.views import dashboard_view
from warehouses.access import Capability, may

DEAD_LETTERS_SHOWN = 25
REPORTS_SHOWN = 10


@dataclass(frozen=True, slots=True)
class StoreHealth:
    connector: Connector
    health: ConnectorHealth
    push_state: PushState
    failed_poll_parts: dict[str, str]


@dataclass(frozen=True, slots=True)
class ReplayResult:
    message: str
    is_change: bool


def may_replay(user) -> bool:
    """Replaying changes stock (the events apply when processed): ops staff, as in the API."""
    return may(user, Capability.REPLAY_DEAD_LETTERS)


def connectors_context() -> dict:
    now = timezone.now()
    stores = [
        StoreHealth(
            connector=connector,
            health=connector_health(connector),
            push_state=push_state(connector, now=now),
            failed_poll_parts=failed_poll_parts(connector),
        )
        for connector in Connector.objects.filter(archived_at__isnull=True)
        .select_related("channel")
        .order_by("name")
    ]
    dead = InboxEvent.objects.filter(state=InboxState.DEAD)
    return {
        "stores": stores,
        "dead_letters": list(
            dead.select_related("connector").order_by("-received_at", "-pk")[:DEAD_LETTERS_SHOWN]
        ),
        "dead_total": sum(store.health.dead_events for store in stores),
        "reports": list(
            ReconciliationReport.objects.select_related("connector").order_by("-created_at", "-pk")[
                :REPORTS_SHOWN
            ]
        ),
        "read_at": now,
    }


def render_connectors(*, can_replay: bool, oob: bool) -> str:
    return render_to_string(
        "connectors/partials/connectors_region.html",
        {**connectors_context(), "can_replay": can_replay, "oob": oob},
    )


@dashboard_view
def connectors_page(request: HtmxHttpRequest) -> HttpResponse:
    context = {
        **connectors_context(),
        "can_replay": may_replay(request.user),
        "live_url": "/ws/live/connectors/",
    }
    if request.htmx and request.htmx.target == "live-region":
        response = render(request, "connectors/partials/connectors_region.html", context)
    else:
        response = render(request, "connectors/connectors.html", context)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


class ReplayForm(forms.Form):
    """One dead letter (event), or every dead letter of one store (connector)."""

    event = forms.IntegerField(required=False, min_value=1)
    connector = forms.IntegerField(required=False, min_value=1)

    def clean(self) -> dict:
        super().clean()
        data = self.cleaned_data  # what Form.clean returns, typed as a dict
        if (data.get("event") is None) == (data.get("connector") is None):
            raise forms.ValidationError("Choose one dead letter, or one store's dead letters.")
        return data


@require_POST
@dashboard_view
def replay(request: HtmxHttpRequest) -> HttpResponse:
    form = ReplayForm(request.POST)
    if not may_replay(request.user):
        status, result = 403, ReplayResult("Only ops staff may replay; nothing was queued.", False)
    elif not form.is_valid():
        status, result = (
            422,
            ReplayResult(
                " ".join(map(str, form.non_field_errors())) or "Nothing to replay.", False
            ),
        )
    else:
        event_id, connector_id = form.cleaned_data["event"], form.cleaned_data["connector"]
        if event_id is not None:
            count = replay_dead_letters(event_ids=[event_id])
            what = f"dead letter #{event_id}"
        else:
            count = replay_dead_letters(connector_id=connector_id)
            name = Connector.objects.filter(pk=connector_id).values_list("name", flat=True).first()
            what = f"the dead letters of {name or f'connector #{connector_id}'}"
        if count:
            status = 200
            result = ReplayResult(
                f"Queued {what} again ({count} event{'s' if count != 1 else ''}); "
                "each is applied once, however often it is replayed.",
                True,
            )
        else:
            status, result = (
                422,
                ReplayResult(f"Nothing to replay: {what} is not dead (any more).", False),
            )
    if not request.htmx and status == 200:
        return HttpResponseRedirect(reverse("connectors:page"))
    context = {
        **connectors_context(),
        "can_replay": may_replay(request.user),
        "result": result,
        "live_url": "/ws/live/connectors/",
    }
    template = (
        "connectors/partials/connectors_region.html"
        if request.htmx
        else "connectors/connectors.html"
    )
    return render(request, template, context, status=status)
