"""What transfers add to stock's pages (registered in TransfersConfig.ready(), see
inventory_hub.shell.panels), and the variant page's form that drafts a transfer."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from inventory_hub.htmx import HtmxHttpRequest
from inventory_hub.shell.panels import Panel
from inventory_hub.shell.views import dashboard_view
from stock.actors import Actor
from stock.errors import StockError
from stock.models import Variant
from transfers.access import Action, may_act_between
from transfers.events import publish_transfer_changed
from transfers.models import Transfer, TransferLine
from transfers.selectors import OPEN_STATES, in_transit_by_lane, units_in_transit, variant_transfers
from transfers.services import TransferLineInput, approve_transfer, create_transfer
from transfers.views.forms import CreateTransferForm
from transfers.views.pages import ActionResult
from warehouses.access import Capability, may
from warehouses.models import Warehouse


def variant_panel(variant_id: int) -> Panel:
    """Per warehouse: held for transfers leaving, in transit out, in transit in; and the open
    transfers that move this variant."""
    figures = variant_transfers(variant_id)
    warehouses = Warehouse.objects.filter(pk__in=list(figures)).order_by("code")
    lines = (
        TransferLine.objects.filter(variant_id=variant_id, transfer__state__in=OPEN_STATES)
        .select_related("transfer", "transfer__source", "transfer__destination")
        .order_by("transfer_id")
    )
    return Panel(
        "transfers/partials/variant_panel.html",
        {
            "rows": [(warehouse, figures[warehouse.pk]) for warehouse in warehouses],
            "lines": list(lines),
        },
    )


def may_draft(user) -> bool:
    return may(user, Capability.CHANGE_STOCK)


def create_action(variant_id: int, request: HttpRequest) -> Panel | None:
    """The form that drafts a transfer of this variant; none for roles that read only."""
    if not may_draft(request.user):
        return None
    sku = Variant.objects.filter(pk=variant_id).values_list("sku", flat=True).first()
    return Panel("transfers/partials/create_form.html", {"sku": sku, "form": CreateTransferForm()})


def in_transit_tile(warehouse_id: int | None) -> Panel:
    """Units on the road: everywhere, or to and from one warehouse."""
    lanes = in_transit_by_lane()
    if warehouse_id is not None:
        code = Warehouse.objects.filter(pk=warehouse_id).values_list("code", flat=True).first()
        lanes = [lane for lane in lanes if code in (lane.source_code, lane.destination_code)]
        units = sum(lane.units for lane in lanes)
    else:
        units = units_in_transit()
    return Panel(
        "transfers/partials/overview_tile.html",
        {
            "units": units,
            "transfers": sum(lane.transfers for lane in lanes),
            "late": sum(len(lane.late_transfers) for lane in lanes),
        },
    )


def _create_response(
    request: HtmxHttpRequest,
    sku: str,
    form: CreateTransferForm,
    *,
    result: ActionResult | None = None,
    transfer: Transfer | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {"panel": {"sku": sku, "form": form}, "create_result": result, "created": transfer}
    return render(request, "transfers/partials/create_form.html", context, status=status)


@require_POST
@dashboard_view
def create_from_variant(request: HtmxHttpRequest, sku: str) -> HttpResponse:
    """Draft a transfer of one variant (and approve it, when asked and allowed). The form
    carries a generated reference, so sending it twice drafts one transfer."""
    variant = Variant.objects.filter(sku=sku).first()
    if variant is None:
        return render(request, "stock/not_found.html", {"sku": sku}, status=404)
    form = CreateTransferForm(request.POST)
    if not may_draft(request.user):
        form.is_valid()
        refused = ActionResult("Your role reads transfers; nothing was created.", False)
        return _create_response(request, sku, form, result=refused, status=403)
    if not form.is_valid():
        return _create_response(request, sku, form, status=422)
    data = form.cleaned_data
    source, destination = data["source"], data["destination"]
    wants_approval = request.POST.get("approve") == "1"
    asked = [Action.CREATE] + ([Action.APPROVE] if wants_approval else [])
    ends = {"source_id": source.pk, "destination_id": destination.pk}
    if not all(may_act_between(request.user, action, **ends) for action in asked):
        what = "draft and approve" if wants_approval else "draft"
        refused = ActionResult(
            f"Your role may not {what} a transfer from {source.code} to {destination.code}; "
            "nothing was created.",
            False,
        )
        return _create_response(request, sku, form, result=refused, status=403)
    actor = Actor.for_user(request.user)
    try:
        transfer = create_transfer(
            source=source,
            destination=destination,
            lines=[TransferLineInput(variant=variant, quantity=data["quantity"])],
            reference=data["reference"],
            actor=actor,
            reason=data["reason"],
        )
    except StockError as error:
        refused = ActionResult(f"{error.message} Nothing was created.", False)
        return _create_response(request, sku, form, result=refused, status=422)
    message = (
        f"Transfer {transfer.reference} drafted: {data['quantity']} from {source.code} "
        f"to {destination.code}."
    )
    if wants_approval:
        try:
            approve_transfer(transfer=transfer, actor=actor)
        except StockError as error:
            message += f" It could not be approved: {error.message} It stays a draft."
        else:
            message = message.replace("drafted", "drafted and approved")
    # A draft records no transition (services.common.record): the Transfers page hears of
    # it from here.
    publish_transfer_changed(transfer.pk)
    fresh = CreateTransferForm(initial={"source": source, "destination": destination})
    return _create_response(request, sku, fresh, result=ActionResult(message), transfer=transfer)
