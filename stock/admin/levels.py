"""Stock levels: read, adjust through the services, export and import CSV."""

from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from inventory_hub.admin_kit import form_page, missing_object_redirect
from stock.actors import Actor
from stock.admin.common import csv_download
from stock.admin.filters import BelowThresholdListFilter, ChannelListFilter, StatusListFilter
from stock.admin.forms import ImportCountsForm, Operation, StockAdjustmentForm
from stock.csv_io import ImportReport, import_counts
from stock.errors import StockError
from stock.models import StockLevel
from stock.services import ChangeOutcome
from stock.services.catalogue import set_level_threshold
from warehouses.access import (
    Capability,
    can_change_stock_at,
    can_change_stock_somewhere,
    may,
    writable_warehouse_ids,
)

# An import report lists at most this many problems or changes; the totals count them all.
MAX_SHOWN_ROWS = 500


LEVEL_QUANTITIES = ["on_hand", "reserved", "unsellable", "safety_stock", "inbound", "available"]


# The change page's fields, all read-only but the threshold (a str tuple for the type
# checker: ModelAdmin.fields also admits groups of names).
LEVEL_FIELDS = (
    "variant",
    "warehouse",
    *LEVEL_QUANTITIES,
    "status",
    "is_backorder_allowed",
    "low_stock_threshold",
    "version",
    "updated_at",
    "recent_movements",
)


@admin.register(StockLevel)
class StockLevelAdmin(admin.ModelAdmin):
    list_display = [
        "sku",
        "product_name",
        "warehouse_code",
        *LEVEL_QUANTITIES,
        "threshold",
        "status",
    ]
    list_display_links = ["sku"]
    list_select_related = ["variant", "variant__product", "warehouse"]
    list_filter = [
        "warehouse",
        ChannelListFilter,
        StatusListFilter,
        BelowThresholdListFilter,
        "is_backorder_allowed",
    ]
    search_fields = ["variant__sku", "variant__product__name", "=variant__barcode"]
    # Counting every level on each page of a 500,000-row table is not worth its cost.
    show_full_result_count = False
    fields = LEVEL_FIELDS
    readonly_fields = [name for name in LEVEL_FIELDS if name != "low_stock_threshold"]
    actions = ["export_selected", "adjust_selected"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Levels appear when stock first moves (stock.services.ledger creates them).
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: StockLevel, form, change: bool) -> None:
        # Only the threshold (the service writes no other column): a full save would write
        # back the quantities this request read, undoing any stock change committed since.
        set_level_threshold(level=obj, threshold=obj.low_stock_threshold)

    @admin.display(description="SKU", ordering="variant__sku")
    def sku(self, level: StockLevel) -> str:
        return level.variant.sku

    @admin.display(description="product", ordering="variant__product__name")
    def product_name(self, level: StockLevel) -> str:
        return level.variant.product.name

    @admin.display(description="warehouse", ordering="warehouse__code")
    def warehouse_code(self, level: StockLevel) -> str:
        return level.warehouse.code

    @admin.display(description="threshold")
    def threshold(self, level: StockLevel) -> int:
        return level.threshold

    @admin.display(description="status")
    def status(self, level: StockLevel) -> str:
        return level.status.label

    def get_list_display(self, request: HttpRequest) -> list:
        allowed = writable_warehouse_ids(request.user)
        if allowed is not None and not allowed:
            return self.list_display

        # A link on exactly the rows this user may change: elsewhere it would only lead to 403.
        @admin.display(description="")
        def adjust_link(level: StockLevel) -> str:
            if allowed is not None and level.warehouse_id not in allowed:
                return ""
            return format_html('<a href="{}">Adjust…</a>', self._adjust_url(level))

        return [*self.list_display, adjust_link]

    def has_adjust_permission(self, request: HttpRequest) -> bool:
        return can_change_stock_somewhere(request.user)

    def may_adjust(self, request: HttpRequest, level: StockLevel) -> bool:
        return can_change_stock_at(request.user, level.warehouse)

    @admin.display(description="recent movements")
    def recent_movements(self, level: StockLevel) -> str:
        movements = list(level.movements.order_by("-id")[:10])
        ledger_url = reverse("admin:stock_stockmovement_changelist")
        link = format_html(
            '<a href="{}?level__id__exact={}">The whole ledger of this level</a>',
            ledger_url,
            level.pk,
        )
        if not movements:
            return link
        rows = format_html_join(
            "",
            # format_html_join escapes each value to text first, so the sign is added here.
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    movement.recorded_at.strftime("%Y-%m-%d %H:%M"),
                    movement.get_kind_display(),
                    movement.get_reason_display(),
                    f"{movement.delta_on_hand:+d}",
                    movement.on_hand_after,
                    movement.actor_label,
                )
                for movement in movements
            ),
        )
        return format_html(
            "<table><thead><tr><th>when</th><th>kind</th><th>reason</th><th>on hand Δ</th>"
            "<th>on hand after</th><th>by</th></tr></thead><tbody>{}</tbody></table>{}",
            rows,
            link,
        )

    def _adjust_url(self, level: StockLevel) -> str:
        return reverse("admin:stock_stocklevel_adjust", args=[quote(level.pk)])

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<path:object_id>/adjust/",
                self.admin_site.admin_view(self.adjust_view),
                name="{}_{}_adjust".format(*info),
            ),
            path(
                "export/",
                self.admin_site.admin_view(self.export_view),
                name="{}_{}_export".format(*info),
            ),
            path(
                "import-counts/",
                self.admin_site.admin_view(self.import_counts_view),
                name="{}_{}_import_counts".format(*info),
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "has_import_permission": self.has_adjust_permission(request),
        }
        return super().changelist_view(request, extra_context)

    def change_view(self, request: HttpRequest, object_id: str, form_url="", extra_context=None):
        level = self.get_object(request, unquote(object_id))
        extra_context = {
            **(extra_context or {}),
            "may_adjust": level is not None and self.may_adjust(request, level),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def adjust_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        level = self.get_object(request, unquote(object_id))
        if level is None:
            return missing_object_redirect(self, request, object_id)
        if not self.may_adjust(request, level):
            raise PermissionDenied
        form = StockAdjustmentForm(request.POST or None, operations=_operations_for(request.user))
        if request.method == "POST" and form.is_valid():
            try:
                outcome = form.apply(level=level, actor=Actor.for_user(request.user))
            except StockError as error:
                form.add_stock_error(error)
            else:
                self.message_user(request, _outcome_message(outcome), messages.SUCCESS)
                return HttpResponseRedirect(
                    reverse("admin:stock_stocklevel_change", args=[quote(level.pk)])
                )
        return form_page(
            self,
            request,
            template="admin/stock/stocklevel/adjust.html",
            title=f"Adjust stock of {level.variant.sku} at {level.warehouse.code}",
            obj=level,
            level=level,
            form=form,
            submit_label="Apply",
        )

    def export_view(self, request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return HttpResponseRedirect(reverse("admin:stock_stocklevel_changelist") + "?e=1")
        return csv_download(request, changelist.queryset)

    def import_counts_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_adjust_permission(request):
            raise PermissionDenied
        form = ImportCountsForm(request.POST or None, request.FILES or None)
        report: ImportReport | None = None
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            report = import_counts(
                upload.read(),
                filename=upload.name,
                actor=Actor.for_user(request.user),
                check_only=form.cleaned_data["check_only"],
                warehouse_ids=writable_warehouse_ids(request.user),
            )
        return form_page(
            self,
            request,
            template="admin/stock/stocklevel/import_counts.html",
            title="Import counts from a CSV file",
            form=form,
            report=report,
            shown_errors=report.errors[:MAX_SHOWN_ROWS] if report else [],
            shown_variances=report.variances[:MAX_SHOWN_ROWS] if report else [],
            max_shown_rows=MAX_SHOWN_ROWS,
            submit_label="Upload",
        )

    @admin.action(description="Export selected levels as CSV", permissions=["view"])
    def export_selected(self, request: HttpRequest, queryset: QuerySet[StockLevel]):
        return csv_download(request, queryset)

    @admin.action(description="Adjust the selected level…", permissions=["adjust"])
    def adjust_selected(self, request: HttpRequest, queryset: QuerySet[StockLevel]):
        pks = list(queryset.values_list("pk", flat=True)[:2])
        if len(pks) != 1:
            self.message_user(
                request, "Select exactly one stock level to adjust.", messages.WARNING
            )
            return None
        if not self.may_adjust(request, queryset.select_related("warehouse").get()):
            self.message_user(
                request, "You may not change stock at that warehouse.", messages.WARNING
            )
            return None
        return HttpResponseRedirect(reverse("admin:stock_stocklevel_adjust", args=[quote(pks[0])]))


def _operations_for(user) -> tuple[Operation, ...]:
    # Managers change stock as the API and the dashboard let them: adjustments and counts.
    if may(user, Capability.USE_EVERY_STOCK_OPERATION):
        return tuple(Operation)
    return (Operation.ADJUST, Operation.COUNT)


def _outcome_message(outcome: ChangeOutcome) -> str:
    level = outcome.level
    where = f"{outcome.change.variant.sku} at {outcome.change.warehouse.code}"
    if outcome.movement is None:
        return f"Nothing to change: {where} already stood at those figures."
    return (
        f"Recorded movement #{outcome.movement.pk} for {where}. Now on hand {level.on_hand}, "
        f"reserved {level.reserved}, unsellable {level.unsellable}, "
        f"safety stock {level.safety_stock}, available {level.available}."
    )
