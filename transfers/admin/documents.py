"""Transfers: listed and read here, drafted through `create_transfer`, moved on by actions
that call one transition service per selected transfer, as the user."""

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.utils.html import format_html_join

from inventory_hub.admin_kit import adopt_saved
from stock.actors import Actor
from stock.errors import StockError
from stock.models import ReasonCode
from transfers.access import Action, may_act, may_act_between
from transfers.models import Transfer, TransferEvent, TransferLine, TransferReceipt
from transfers.selectors import is_late, late_q
from transfers.services import (
    BACK_TO_SOURCE,
    LOST,
    approve_transfer,
    cancel_transfer,
    close_transfer_short,
    create_transfer,
    pick_transfer,
    ship_transfer,
)

from .forms import TransferAddForm


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class TransferLineInline(ReadOnlyInline):
    """Each line's counters: shipped + over-received = in transit + accepted + rejected + lost
    + returned."""

    model = TransferLine
    fields = (
        "variant",
        "quantity",
        "shipped",
        "in_transit",
        "accepted",
        "rejected",
        "lost",
        "returned",
        "over_received",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[TransferLine]:
        return super().get_queryset(request).select_related("variant").order_by("pk")

    @admin.display(description="in transit")
    def in_transit(self, line: TransferLine) -> int:
        return line.in_transit


class TransferEventInline(ReadOnlyInline):
    model = TransferEvent
    fields = ("at", "kind", "actor_label", "details")
    readonly_fields = fields
    verbose_name_plural = "timeline"


class TransferReceiptInline(ReadOnlyInline):
    model = TransferReceipt
    fields = ("reference", "received_at", "actor_label", "is_over_receipt", "counted")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[TransferReceipt]:
        return super().get_queryset(request).prefetch_related("lines__line__variant")

    @admin.display(description="lines")
    def counted(self, receipt: TransferReceipt) -> str:
        return format_html_join(
            "",
            "<div>{}: {} accepted, {} rejected {}</div>",
            (
                (
                    line.line.variant.sku,
                    line.accepted,
                    line.rejected,
                    f"({line.rejection_reason}, {line.rejected_disposition})"
                    if line.rejected
                    else "",
                )
                for line in receipt.lines.all()
            ),
        )


class LateListFilter(admin.SimpleListFilter):
    title = "late (on the road past its due time)"
    parameter_name = "is_late"

    def lookups(self, request, model_admin):
        return [("yes", "Late"), ("no", "Not late")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(late_q())
        if self.value() == "no":
            return queryset.exclude(late_q())
        return queryset


class TransferRefused(Exception):
    def __init__(self, error: StockError) -> None:
        super().__init__(error.message)
        self.error = error


Transition = Callable[..., Any]


@admin.register(Transfer)
class TransferAdmin(admin.ModelAdmin):
    """Read-only once made: its state changes only through the transition services."""

    list_display = [
        "reference",
        "source",
        "destination",
        "state",
        "late",
        "created_at",
        "expected_arrival",
        "due_at",
        "requested_by_label",
    ]
    list_filter = ["state", LateListFilter, "source", "destination"]
    list_select_related = ["source", "destination", "lane"]
    search_fields = ["reference", "lines__variant__sku"]
    date_hierarchy = "created_at"
    actions = [
        "approve_selected",
        "pick_selected",
        "ship_selected",
        "cancel_selected",
        "cancel_back_to_source_selected",
        "cancel_lost_selected",
        "close_short_selected",
    ]
    fieldsets = [
        (None, {"fields": ["reference", "source_system", "state", "late"]}),
        ("Route", {"fields": ["source", "destination", "lane"]}),
        ("Why", {"fields": ["requested_by_label", "reason", "notes"]}),
        (
            "When",
            {
                "fields": [
                    "created_at",
                    "approved_at",
                    "shipped_at",
                    "expected_arrival",
                    "due_at",
                    "closed_at",
                ]
            },
        ),
    ]
    add_fieldsets: list[tuple[str | None, dict[str, list[str]]]] = [
        (None, {"fields": ["source", "destination", "reference", "lines"]}),
        ("Why", {"fields": ["reason", "notes"]}),
    ]
    readonly_fields = ["late"]

    @admin.display(boolean=True, description="late")
    def late(self, transfer: Transfer) -> bool:
        return is_late(transfer)

    # --- Reading and drafting ------------------------------------------------------------

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_act_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("transfers.change_transfer")

    def get_fieldsets(self, request: HttpRequest, obj: Transfer | None = None):
        return self.add_fieldsets if obj is None else self.fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Transfer | None = None):
        return [] if obj is None else super().get_readonly_fields(request, obj)

    def get_form(self, request: HttpRequest, obj=None, change: bool = False, **kwargs):
        if obj is None:
            kwargs["form"] = TransferAddForm
        return super().get_form(request, obj, change, **kwargs)

    def get_inlines(self, request: HttpRequest, obj: Transfer | None):
        if obj is None:
            return []
        return [TransferLineInline, TransferEventInline, TransferReceiptInline]

    def save_model(self, request: HttpRequest, obj: Transfer, form, change: bool) -> None:
        if change:  # never offered: has_change_permission is False
            raise PermissionDenied
        if not may_act_between(
            request.user, Action.CREATE, source_id=obj.source_id, destination_id=obj.destination_id
        ):
            raise PermissionDenied
        try:
            transfer = create_transfer(
                source=obj.source,
                destination=obj.destination,
                lines=form.cleaned_data["lines"],
                reference=obj.reference,
                reason=obj.reason,
                notes=obj.notes,
                actor=Actor.for_user(request.user),
            )
        except StockError as error:
            raise TransferRefused(error) from error
        adopt_saved(obj, transfer)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except TransferRefused as refused:
            # changeform_view's transaction was rolled back: nothing of the form was saved.
            self.message_user(
                request, f"Nothing was saved: {refused.error.message}", messages.ERROR
            )
            return HttpResponseRedirect(request.get_full_path())

    # --- Actions: one transition service per selected transfer ---------------------------

    @admin.action(description="Approve: hold the units at the source", permissions=["act"])
    def approve_selected(self, request: HttpRequest, queryset: QuerySet[Transfer]) -> None:
        self._each(request, queryset, Action.APPROVE, approve_transfer, "approved")

    @admin.action(description="Mark picked", permissions=["act"])
    def pick_selected(self, request: HttpRequest, queryset: QuerySet[Transfer]) -> None:
        self._each(request, queryset, Action.PICK, pick_transfer, "picked")

    @admin.action(description="Ship: the units go on the road", permissions=["act"])
    def ship_selected(self, request: HttpRequest, queryset: QuerySet[Transfer]) -> None:
        self._each(request, queryset, Action.SHIP, ship_transfer, "shipped")

    @admin.action(description="Cancel before shipping (release the hold)", permissions=["act"])
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet[Transfer]) -> None:
        # Without a disposition the service refuses a transfer already on the road: where
        # its units are is said on its own page or through the API.
        self._each(request, queryset, Action.CANCEL, cancel_transfer, "cancelled")

    @admin.action(
        description="Cancel on the road: the units go back to the source", permissions=["act"]
    )
    def cancel_back_to_source_selected(
        self, request: HttpRequest, queryset: QuerySet[Transfer]
    ) -> None:
        def back(*, transfer: Transfer, actor: Actor) -> Transfer:
            return cancel_transfer(
                transfer=transfer,
                actor=actor,
                disposition=BACK_TO_SOURCE,
                note="cancelled in the admin",
            )

        self._each(request, queryset, Action.CANCEL, back, "cancelled, units on their way back")

    @admin.action(description="Cancel on the road: the units are lost", permissions=["act"])
    def cancel_lost_selected(self, request: HttpRequest, queryset: QuerySet[Transfer]) -> None:
        def lost(*, transfer: Transfer, actor: Actor) -> Transfer:
            return cancel_transfer(
                transfer=transfer, actor=actor, disposition=LOST, note="cancelled in the admin"
            )

        self._each(request, queryset, Action.CANCEL, lost, "cancelled, units written off as lost")

    @admin.action(
        description="Close short: write off what is still in transit as lost",
        permissions=["act"],
    )
    def close_short_selected(self, request: HttpRequest, queryset: QuerySet[Transfer]) -> None:
        def close_short(*, transfer: Transfer, actor: Actor) -> Transfer:
            return close_transfer_short(
                transfer=transfer, actor=actor, reason=ReasonCode.LOST, note="closed in the admin"
            )

        self._each(request, queryset, Action.CLOSE_SHORT, close_short, "closed short")

    def _each(
        self,
        request: HttpRequest,
        queryset: QuerySet[Transfer],
        action: Action,
        transition: Transition,
        done: str,
    ) -> None:
        """Each transfer in its own transaction: one refusal leaves the others' outcome."""
        actor = Actor.for_user(request.user)
        for transfer in queryset.select_related("source", "destination").order_by("pk"):
            if not may_act(request.user, action, transfer):
                self.message_user(
                    request,
                    f"{transfer.reference}: you may not {action.replace('_', ' ')} a transfer "
                    f"from {transfer.source.code} to {transfer.destination.code}.",
                    messages.ERROR,
                )
                continue
            try:
                transition(transfer=transfer, actor=actor)
            except StockError as error:
                self.message_user(request, f"{transfer.reference}: {error.message}", messages.ERROR)
            else:
                self.message_user(request, f"{transfer.reference}: {done}.", messages.SUCCESS)
