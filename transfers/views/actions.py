"""The transfer page's forms: each calls one transfer service as the signed-in user.

Every POST asks `may_act` again (a viewer, or a manager of the other end, gets 403 and
nothing changes), whatever buttons the page showed. A refusal of the service (the state
moved on, more received than shipped, not enough available to hold) answers 422 with the
service's message and the form as sent; nothing was written, the service being one
transaction. Without JavaScript a success redirects to the transfer's page.
"""

from collections.abc import Callable

from django import forms
from django.http import HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from inventory_hub.htmx import HtmxHttpRequest
from inventory_hub.shell.views import dashboard_view
from stock.actors import Actor
from stock.errors import StockError
from stock.models import ReasonCode
from transfers.access import Action, may_act
from transfers.models import Transfer
from transfers.selectors import ON_THE_ROAD
from transfers.services import (
    approve_transfer,
    cancel_transfer,
    close_transfer_short,
    pick_transfer,
    receive_return,
    receive_transfer,
    ship_transfer,
)
from transfers.views.forms import CancelForm, CloseShortForm, ReceiveForm
from transfers.views.fragments import transfer_for_page, transfer_lines
from transfers.views.pages import ActionResult, detail_response, not_found

# (transfer, the valid form or None, actor) -> what the page says happened
Run = Callable[[Transfer, forms.Form | None, Actor], str]
FormFactory = Callable[[HtmxHttpRequest, Transfer], forms.Form]

REFUSED = "Your role may not {verb} transfer {reference}; nothing was changed."


def _transition(
    action: Action,
    *,
    verb: str,
    run: Run,
    form_name: str | None = None,
    form: FormFactory | None = None,
):
    @require_POST
    @dashboard_view
    def view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
        transfer = transfer_for_page(pk)
        if transfer is None:
            return not_found(request, pk)
        if not may_act(request.user, action, transfer):
            message = REFUSED.format(verb=verb, reference=transfer.reference)
            return detail_response(
                request, transfer, result=ActionResult(message, is_change=False), status=403
            )
        bound = form(request, transfer) if form is not None else None
        sent: dict = {form_name: bound} if form_name and bound is not None else {}
        if bound is not None and not bound.is_valid():
            return detail_response(request, transfer, status=422, **sent)
        try:
            message = run(transfer, bound, Actor.for_user(request.user))
        except StockError as error:
            result = ActionResult(f"{error.message} Nothing was changed.", is_change=False)
            return detail_response(request, transfer, result=result, status=422, **sent)
        if not request.htmx:
            return HttpResponseRedirect(reverse("transfers:detail", args=[transfer.pk]))
        fresh = transfer_for_page(pk)
        assert fresh is not None  # transfers are never deleted
        return detail_response(request, fresh, result=ActionResult(message))

    return view


def _approve(transfer: Transfer, form: forms.Form | None, actor: Actor) -> str:
    approve_transfer(transfer=transfer, actor=actor)
    return f"Transfer {transfer.reference} approved: its units are held at {transfer.source.code}."


def _pick(transfer: Transfer, form: forms.Form | None, actor: Actor) -> str:
    pick_transfer(transfer=transfer, actor=actor)
    return f"Transfer {transfer.reference} picked."


def _ship(transfer: Transfer, form: forms.Form | None, actor: Actor) -> str:
    ship_transfer(transfer=transfer, actor=actor)
    return (
        f"Transfer {transfer.reference} shipped: its units are in transit to "
        f"{transfer.destination.code}."
    )


def _receive_form(request: HtmxHttpRequest, transfer: Transfer) -> forms.Form:
    lines = [line for line in transfer_lines(transfer) if line.shipped]
    return ReceiveForm(request.POST, lines=lines)


def _receive(transfer: Transfer, form: forms.Form | None, actor: Actor) -> str:
    assert isinstance(form, ReceiveForm)
    receipt = receive_transfer(
        transfer=transfer,
        receipt_reference=form.cleaned_data["receipt_reference"],
        lines=form.receipt_lines(),
        actor=actor,
        over_receipt=form.cleaned_data["over_receipt"],
    )
    return f"Receipt {receipt.reference} recorded at {transfer.destination.code}."


def _return_form(request: HtmxHttpRequest, transfer: Transfer) -> forms.Form:
    lines = [line for line in transfer_lines(transfer) if line.returning]
    return ReceiveForm(request.POST, lines=lines, allow_over_receipt=False)


def _receive_return(transfer: Transfer, form: forms.Form | None, actor: Actor) -> str:
    assert isinstance(form, ReceiveForm)
    receipt = receive_return(
        transfer=transfer,
        receipt_reference=form.cleaned_data["receipt_reference"],
        lines=form.receipt_lines(),
        actor=actor,
    )
    return f"Return {receipt.reference} received back at {transfer.source.code}."


def _close_short_form(request: HtmxHttpRequest, transfer: Transfer) -> forms.Form:
    return CloseShortForm(request.POST)


def _close_short(transfer: Transfer, form: forms.Form | None, actor: Actor) -> str:
    assert form is not None
    close_transfer_short(
        transfer=transfer, actor=actor, reason=ReasonCode.LOST, note=form.cleaned_data["note"]
    )
    return f"Transfer {transfer.reference} closed short: what was still on the road is written off."


def _cancel_form(request: HtmxHttpRequest, transfer: Transfer) -> forms.Form:
    return CancelForm(request.POST, is_on_the_road=transfer.state in ON_THE_ROAD)


def _cancel(transfer: Transfer, form: forms.Form | None, actor: Actor) -> str:
    assert form is not None
    cancel_transfer(
        transfer=transfer,
        actor=actor,
        disposition=form.cleaned_data.get("disposition") or None,
        note=form.cleaned_data["note"],
    )
    return f"Transfer {transfer.reference} cancelled."


approve = _transition(Action.APPROVE, verb="approve", run=_approve)
pick = _transition(Action.PICK, verb="mark picked", run=_pick)
ship = _transition(Action.SHIP, verb="ship", run=_ship)
receive = _transition(
    Action.RECEIVE, verb="receive", run=_receive, form_name="receive_form", form=_receive_form
)
receive_return_view = _transition(
    Action.RECEIVE_RETURN,
    verb="receive the return of",
    run=_receive_return,
    form_name="return_form",
    form=_return_form,
)
close_short = _transition(
    Action.CLOSE_SHORT,
    verb="close short",
    run=_close_short,
    form_name="close_short_form",
    form=_close_short_form,
)
cancel = _transition(
    Action.CANCEL, verb="cancel", run=_cancel, form_name="cancel_form", form=_cancel_form
)
