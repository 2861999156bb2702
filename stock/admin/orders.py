"""Orders, read-only, with the short ones (a store sold more than the hub could hold) to
filter and resolve: each action calls one order service as the user."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from stock.actors import Actor
from stock.errors import StockError
from stock.models import Order, OrderLine
from stock.selectors import short_orders
from stock.services.orders import cancel_order, cancel_short_units, fill_shortfall

from .common import ReadOnlyAdmin


class ShortOrderListFilter(admin.SimpleListFilter):
    title = "short (sold, not held)"
    parameter_name = "is_short"

    def lookups(self, request, model_admin):
        return [("yes", "Short: an incident to resolve"), ("no", "Not short")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return short_orders(queryset)
        if self.value() == "no":
            return queryset.exclude(pk__in=short_orders().values("pk"))
        return queryset


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    fields = ("line_number", "variant", "quantity", "backordered_quantity", "short_quantity")
    readonly_fields = fields  # a tuple fits both stub types; a list fits one
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    """Orders change only through the order services: here, resolving short orders."""

    list_display = ["__str__", "status", "shortfall", "placed_at", "expires_at", "actor_label"]
    list_filter = [ShortOrderListFilter, "status", "channel"]
    list_select_related = ["channel"]
    search_fields = ["reference", "channel__code"]
    date_hierarchy = "placed_at"
    inlines = [OrderLineInline]
    actions = ["fill_shortfall_selected", "cancel_short_units_selected", "cancel_selected"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Order]:
        return super().get_queryset(request).prefetch_related("lines")

    @admin.display(description="short units")
    def shortfall(self, order: Order) -> int:
        return sum(
            line.short_quantity
            for line in order.lines.all()
            if line.status == OrderLine.Status.OPEN
        )

    def has_resolve_permission(self, request: HttpRequest) -> bool:
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")

    @admin.action(
        description="Fill the shortfall from stock available now", permissions=["resolve"]
    )
    def fill_shortfall_selected(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        self._each(request, queryset, fill_shortfall, "filled what stock allows")

    @admin.action(
        description="Cancel the short units (the store refunds them)", permissions=["resolve"]
    )
    def cancel_short_units_selected(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        self._each(request, queryset, cancel_short_units, "short units cancelled")

    @admin.action(
        description="Cancel the orders (release every unshipped unit)", permissions=["resolve"]
    )
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        self._each(request, queryset, cancel_order, "cancelled")

    def _each(self, request: HttpRequest, queryset: QuerySet[Order], service, done: str) -> None:
        actor = Actor.for_user(request.user)
        changed = 0
        for order in queryset.select_related("channel").order_by("pk"):
            try:
                service(order=order, actor=actor)
            except StockError as error:
                self.message_user(request, f"{order}: {error.message}", messages.ERROR)
            else:
                changed += 1
        if changed:
            self.message_user(request, f"{changed} order(s): {done}.", messages.SUCCESS)
