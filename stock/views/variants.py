"""Variant detail: the figures of one SKU everywhere, and the forms that change them.

The forms call the same services as the API, as the signed-in user, from the manual
source. A refusal (bad input, or the service saying no) swaps the form back with the
message next to its field and writes nothing; a success swaps back an empty form with
the result, plus the page's changed sections out of band.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypedDict, cast

from django.db.models import QuerySet
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_POST

from inventory_hub.htmx import HtmxHttpRequest
from inventory_hub.shell.panels import variant_actions
from inventory_hub.shell.views import dashboard_view
from stock.actors import Actor
from stock.errors import StockError
from stock.forms import AdjustForm, ClearForcedStatusForm, CountForm, ForceStatusForm
from stock.models import MovementSource, Variant
from stock.services import ChangeOutcome, adjust_stock, clear_forced_status, count_stock
from stock.services import force_status as force_status_service
from stock.views.fragments import render_variant_parts, variant_context
from warehouses.access import (
    Capability,
    can_change_stock_somewhere,
    may,
    writable_warehouse_ids,
)
from warehouses.models import Warehouse

# What a successful form changes on the page, pushed back out of band with its answer.
STOCK_FORM_PARTS = ("levels", "channels", "chart", "movements")
STATUS_FORM_PARTS = ("channels", "forced")


@dataclass(frozen=True, slots=True)
class ActionResult:
    message: str
    is_change: bool = True


def writable_warehouses(user) -> QuerySet[Warehouse]:
    """Active warehouses where this user may change stock (none for viewers)."""
    allowed = writable_warehouse_ids(user)
    warehouses = Warehouse.objects.filter(is_active=True).order_by("code")
    return warehouses if allowed is None else warehouses.filter(pk__in=allowed)


def _variant_or_404(request: HtmxHttpRequest, sku: str) -> Variant | HttpResponse:
    variant = Variant.objects.select_related("product").filter(sku=sku).first()
    if variant is None:
        return render(request, "stock/not_found.html", {"sku": sku}, status=404)
    return variant


def _forms(request: HtmxHttpRequest, **bound) -> dict:
    user = request.user
    warehouses = writable_warehouses(user)
    forms = {
        "adjust_form": AdjustForm(prefix="adjust", warehouses=warehouses),
        "count_form": CountForm(prefix="count", warehouses=warehouses),
        "force_form": ForceStatusForm(prefix="force"),
    }
    forms.update(bound)
    return {
        **forms,
        "can_change_stock": can_change_stock_somewhere(user),
        "can_force_status": may(user, Capability.FORCE_STATUS),
    }


@dashboard_view
def variant_detail(request: HtmxHttpRequest, sku: str) -> HttpResponse:
    variant = _variant_or_404(request, sku)
    if isinstance(variant, HttpResponse):
        return variant
    context = {
        **variant_context(variant),
        **_forms(request),
        "live_url": f"/ws/live/variants/{variant.pk}/",
        "variant_actions": variant_actions(variant.pk, request),
    }
    if request.htmx and request.htmx.target == "live-region":
        response = render(request, "stock/partials/variant_region.html", context)
    else:
        response = render(request, "stock/variant.html", context)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


class _FormTarget(TypedDict):
    """What `_form_response` renders the status forms with."""

    template: str
    form_name: str
    parts: tuple[str, ...]


def _form_response(
    request: HtmxHttpRequest,
    variant: Variant,
    *,
    template: str,
    form_name: str,
    form,
    result: ActionResult | None,
    parts: tuple[str, ...],
    status: int,
    level_ids: list[int] | None = None,
) -> HttpResponse:
    """The form fragment (HTMX) or the whole page (no JavaScript) after a POST."""
    if not request.htmx:
        if result is not None:
            return HttpResponseRedirect(reverse("dashboard:variant", args=[variant.sku]))
        context = {
            **variant_context(variant),
            **_forms(request, **{form_name: form}),
            "live_url": f"/ws/live/variants/{variant.pk}/",
            "variant_actions": variant_actions(variant.pk, request),
        }
        return render(request, "stock/variant.html", context, status=status)
    context = {**_forms(request, **{form_name: form}), "variant": variant, "result": result}
    response = render(request, template, context, status=status)
    if result is not None and result.is_change:
        # The sections carry buttons (End override) that only some roles see.
        extra = {"can_force_status": context["can_force_status"]}
        response.content += render_variant_parts(
            variant, parts=parts, level_ids=level_ids, extra=extra
        ).encode()
    return response


def _stock_form_view(
    form_class: type[AdjustForm] | type[CountForm],
    *,
    prefix: str,
    template: str,
    apply: Callable[..., ChangeOutcome],
    describe: Callable[[Variant, Warehouse, ChangeOutcome], ActionResult],
):
    @require_POST
    @dashboard_view
    def view(request: HtmxHttpRequest, sku: str) -> HttpResponse:
        variant = _variant_or_404(request, sku)
        if isinstance(variant, HttpResponse):
            return variant
        form = form_class(request.POST, prefix=prefix, warehouses=writable_warehouses(request.user))
        form_name = f"{prefix}_form"
        if not can_change_stock_somewhere(request.user):
            form.is_valid()
            form.add_error(None, "Your role may only read stock; nothing was changed.")
            return _form_response(
                request,
                variant,
                template=template,
                form_name=form_name,
                form=form,
                result=None,
                parts=(),
                status=403,
            )
        outcome = None
        if form.is_valid():
            try:
                outcome = apply(request=request, variant=variant, data=form.cleaned_data)
            except StockError as error:
                form.add_service_error(error)
        if outcome is None:
            return _form_response(
                request,
                variant,
                template=template,
                form_name=form_name,
                form=form,
                result=None,
                parts=(),
                status=422,
            )
        # The next change most often goes to the same warehouse: keep it chosen.
        fresh = form_class(
            prefix=prefix,
            warehouses=writable_warehouses(request.user),
            initial={"warehouse": form.cleaned_data["warehouse"]},
        )
        return _form_response(
            request,
            variant,
            template=template,
            form_name=form_name,
            form=fresh,
            result=describe(variant, form.cleaned_data["warehouse"], outcome),
            parts=STOCK_FORM_PARTS,
            status=200,
            level_ids=[outcome.level.pk],
        )

    return view


def _signed(value: int) -> str:
    return f"+{value}" if value > 0 else f"\N{MINUS SIGN}{-value}"


def _apply_adjustment(*, request: HtmxHttpRequest, variant: Variant, data: dict) -> ChangeOutcome:
    return adjust_stock(
        variant=variant,
        warehouse=data["warehouse"],
        delta=data["delta"],
        reason=data["reason"],
        note=data["note"],
        actor=Actor.for_user(request.user),
        source=MovementSource.MANUAL,
    )


def _describe_adjustment(
    variant: Variant, warehouse: Warehouse, outcome: ChangeOutcome
) -> ActionResult:
    # A delta without a reference is always applied (only a count can match, only a
    # referenced change can be a replay), so it has its ledger row.
    row = cast(dict, outcome.row)
    before = row["on_hand_after"] - row["delta_on_hand"]
    return ActionResult(
        f"{variant.sku} at {warehouse.code}: on hand {before} → {row['on_hand_after']} "
        f"({_signed(row['delta_on_hand'])}), recorded as movement #{row['id']}."
    )


def _apply_count(*, request: HtmxHttpRequest, variant: Variant, data: dict) -> ChangeOutcome:
    return count_stock(
        variant=variant,
        warehouse=data["warehouse"],
        counted=data["counted"],
        reason=data["reason"],
        note=data["note"],
        actor=Actor.for_user(request.user),
        source=MovementSource.MANUAL,
    )


def _describe_count(variant: Variant, warehouse: Warehouse, outcome: ChangeOutcome) -> ActionResult:
    row = outcome.row
    if row is None:
        return ActionResult(
            f"{variant.sku} at {warehouse.code}: the count matches the {outcome.level.on_hand} "
            "on hand; nothing to record.",
            is_change=False,
        )
    before = row["on_hand_after"] - row["delta_on_hand"]
    return ActionResult(
        f"{variant.sku} at {warehouse.code}: counted {row['on_hand_after']}, the books said "
        f"{before}; variance {_signed(row['delta_on_hand'])} recorded as movement #{row['id']}."
    )


adjust = _stock_form_view(
    AdjustForm,
    prefix="adjust",
    template="stock/partials/adjust_form.html",
    apply=_apply_adjustment,
    describe=_describe_adjustment,
)
count = _stock_form_view(
    CountForm,
    prefix="count",
    template="stock/partials/count_form.html",
    apply=_apply_count,
    describe=_describe_count,
)


@require_POST
@dashboard_view
def force_status(request: HtmxHttpRequest, sku: str) -> HttpResponse:
    variant = _variant_or_404(request, sku)
    if isinstance(variant, HttpResponse):
        return variant
    form = ForceStatusForm(request.POST, prefix="force")
    respond: _FormTarget = {
        "template": "stock/partials/force_form.html",
        "form_name": "force_form",
        "parts": STATUS_FORM_PARTS,
    }
    if not may(request.user, Capability.FORCE_STATUS):
        form.is_valid()
        form.add_error(None, "Only ops staff may force a status; nothing was changed.")
        return _form_response(request, variant, form=form, result=None, status=403, **respond)
    if form.is_valid():
        data = form.cleaned_data
        try:
            forced = force_status_service(
                variant=variant,
                status=data["status"],
                reason=data["reason"],
                actor=Actor.for_user(request.user),
                channel=data["channel"],
                expires_at=data["expires_at"],
            )
        except StockError as error:
            form.add_service_error(error)
        else:
            scope = data["channel"].name if data["channel"] else "every channel"
            until = f" until {forced.expires_at:%Y-%m-%d %H:%M} UTC" if forced.expires_at else ""
            result = ActionResult(
                f"{variant.sku} now shows “{forced.get_status_display().lower()}” on "
                f"{scope}{until}. The real status stays visible beside it."
            )
            return _form_response(
                request,
                variant,
                form=ForceStatusForm(prefix="force"),
                result=result,
                status=200,
                **respond,
            )
    return _form_response(request, variant, form=form, result=None, status=422, **respond)


@require_POST
@dashboard_view
def unforce_status(request: HtmxHttpRequest, sku: str) -> HttpResponse:
    """End an override with a reason; a refusal comes back next to that override's field."""
    variant = _variant_or_404(request, sku)
    if isinstance(variant, HttpResponse):
        return variant
    form = ClearForcedStatusForm(request.POST)
    status, message = 422, None
    if not may(request.user, Capability.FORCE_STATUS):
        status, message = 403, "Only ops staff may end a forced status; nothing was changed."
    elif form.is_valid():
        channel = form.cleaned_data["channel"]
        try:
            ended = clear_forced_status(
                variant=variant,
                actor=Actor.for_user(request.user),
                channel=channel,
                reason=form.cleaned_data["reason"],
            )
        except StockError as error:
            form.add_service_error(error)
        else:
            scope = channel.name if channel else "every channel"
            status, message = (
                (200, f"The forced status on {scope} has ended.")
                if ended
                else (422, "That override no longer exists; nothing was changed.")
            )
    if not request.htmx and status == 200:
        return HttpResponseRedirect(reverse("dashboard:variant", args=[variant.sku]))
    context: dict = {
        "result": ActionResult(message, is_change=status == 200) if message else None,
        # The form that was sent, with its errors, goes back under the override it ends.
        "unforce_form": form if status != 200 and form.errors else None,
        "unforce_scope": request.POST.get("channel", ""),
        "oob": False,
    }
    if not request.htmx:
        context |= {
            **variant_context(variant),
            **_forms(request),
            "live_url": f"/ws/live/variants/{variant.pk}/",
            "variant_actions": variant_actions(variant.pk, request),
        }
        return render(request, "stock/variant.html", context, status=status)
    context |= {**variant_context(variant, parts=("forced",)), **_forms(request)}
    response = render(request, "stock/partials/variant_forced.html", context, status=status)
    if status == 200:
        response.content += render_variant_parts(variant, parts=("channels",)).encode()
    return response
