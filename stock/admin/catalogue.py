"""Products, variants and forced statuses."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from inventory_hub.admin_kit import (
    RETIRE_ACTIONS,
    DeactivateInsteadOfDeleteMixin,
    FixedIdentifierMixin,
    adopt_saved,
    changed_fields,
    form_page,
    missing_object_redirect,
)
from stock.actors import Actor
from stock.admin.common import ReadOnlyAdmin, scope_label
from stock.admin.filters import OpenForcedStatusListFilter, VariantForcedListFilter
from stock.admin.forms import ClearStatusForm, ForceStatusForm
from stock.errors import StockError
from stock.models import ForcedStatus, Product, StockLevel, Variant
from stock.selectors import channel_salable
from stock.services import clear_forced_status, force_status
from stock.services.catalogue import (
    PRODUCT_FIELDS,
    VARIANT_FIELDS,
    create_product,
    create_variant,
    update_product,
    update_variant,
)
from warehouses.models import SalesChannel

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class _ProductCounts(TypedDict):
    variant_total: int  # ProductAdmin.get_queryset's annotation


class _VariantOverrides(TypedDict):
    forced_in_force: list[ForcedStatus]  # VariantAdmin.get_queryset's Prefetch(to_attr=...)


class VariantInline(admin.TabularInline):
    """The product's variants, read here; each opens on its own page."""

    model = Variant
    fields = ("sku", "attribute_summary", "barcode", "backorders", "manage_stock", "is_active")
    readonly_fields = fields  # a tuple fits both stub types; a list fits one
    extra = 0
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="attributes")
    def attribute_summary(self, variant: Variant) -> str:
        return variant.attribute_summary


@admin.register(Product)
class ProductAdmin(DeactivateInsteadOfDeleteMixin[Product], admin.ModelAdmin):
    list_display = ["name", "variant_count", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "variants__sku"]
    readonly_fields = ["created_at"]
    inlines = [VariantInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Product]:
        return super().get_queryset(request).annotate(variant_total=Count("variants"))

    @admin.display(description="variants", ordering="variant_total")
    def variant_count(self, product: WithAnnotations[Product, _ProductCounts]) -> int:
        return product.variant_total

    def save_model(self, request: HttpRequest, obj: Product, form, change: bool) -> None:
        if change:
            update_product(product=obj, **changed_fields(obj, form, PRODUCT_FIELDS))
            return
        details = {name: getattr(obj, name) for name in PRODUCT_FIELDS - {"name"}}
        adopt_saved(obj, create_product(name=obj.name, **details))

    def set_active(self, obj: Product, *, is_active: bool) -> None:
        update_product(product=obj, is_active=is_active)


class VariantLevelInline(admin.TabularInline):
    model = StockLevel
    fields = (
        "warehouse",
        "on_hand",
        "reserved",
        "unsellable",
        "safety_stock",
        "inbound",
        "available",
        "status",
    )
    readonly_fields = fields  # a tuple fits both stub types; a list fits one
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = "stock by warehouse"

    def get_queryset(self, request: HttpRequest) -> QuerySet[StockLevel]:
        return super().get_queryset(request).select_related("variant", "warehouse")

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="status")
    def status(self, level: StockLevel) -> str:
        return level.status.label


class BackorderPolicyRefused(Exception):
    def __init__(self, error: StockError) -> None:
        super().__init__(error.message)
        self.error = error


@admin.register(Variant)
class VariantAdmin(FixedIdentifierMixin, DeactivateInsteadOfDeleteMixin[Variant], admin.ModelAdmin):
    fixed_identifier = "sku"
    list_display = [
        "sku",
        "product",
        "attribute_summary",
        "barcode",
        "backorders",
        "manage_stock",
        "low_stock_threshold",
        "unit_cost",
        "forced",
        "is_active",
    ]
    list_filter = ["is_active", "manage_stock", "backorders", VariantForcedListFilter]
    list_select_related = ["product"]
    search_fields = ["sku", "product__name", "=barcode"]
    autocomplete_fields = ["product"]
    readonly_fields = ["created_at", "status_by_channel"]
    inlines = [VariantLevelInline]
    actions = [
        *RETIRE_ACTIONS,
        "force_status_selected",
        "clear_status_selected",
    ]
    fieldsets = [
        (None, {"fields": ["product", "sku", "attributes", "barcode", "is_active"]}),
        ("Stock", {"fields": ["manage_stock", "backorders", "low_stock_threshold", "unit_cost"]}),
        ("Status on each channel", {"fields": ["status_by_channel"]}),
        ("Record", {"fields": ["created_at"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Variant]:
        in_force = ForcedStatus.objects.filter(ended_at__isnull=True).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
        )
        return (
            super()
            .get_queryset(request)
            .prefetch_related(
                Prefetch(
                    "forced_statuses",
                    queryset=in_force.select_related("channel"),
                    to_attr="forced_in_force",
                )
            )
        )

    @admin.display(description="attributes")
    def attribute_summary(self, variant: Variant) -> str:
        return variant.attribute_summary

    @admin.display(description="forced status")
    def forced(self, variant: WithAnnotations[Variant, _VariantOverrides]) -> str:
        return ", ".join(
            f"{forced.get_status_display()} ({scope_label(forced)})"
            for forced in variant.forced_in_force
        )

    @admin.display(description="real and forced status")
    def status_by_channel(self, variant: Variant) -> str:
        if variant.pk is None:
            return "-"
        channels = SalesChannel.objects.filter(is_active=True).order_by("code")
        rows = []
        for channel in channels:
            salable = channel_salable(channel, variant)
            forced = (
                f"{ForcedStatus.Forced(salable.forced_status).label}: {salable.forced_reason}"
                if salable.forced_status
                else "—"
            )
            rows.append((channel.code, salable.salable, salable.status.label, forced))
        if not rows:
            return "No active sales channel."
        return format_html(
            "<table><thead><tr><th>channel</th><th>salable</th><th>real status</th>"
            "<th>forced status</th></tr></thead><tbody>{}</tbody></table>",
            format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows),
        )

    def save_model(self, request: HttpRequest, obj: Variant, form, change: bool) -> None:
        if not change:
            details = {name: getattr(obj, name) for name in VARIANT_FIELDS - {"product"}}
            adopt_saved(obj, create_variant(product=obj.product, sku=obj.sku, **details))
            return
        # Through the service the API uses: it changes the policy together with the copy on
        # each level (and may refuse), writes the other fields by name (so a policy changed
        # elsewhere since this request read the row is not reverted) and drops the cached
        # storefront answers after commit.
        try:
            update_variant(variant=obj, **changed_fields(obj, form, VARIANT_FIELDS))
        except StockError as error:
            raise BackorderPolicyRefused(error) from error

    def set_active(self, obj: Variant, *, is_active: bool) -> None:
        update_variant(variant=obj, is_active=is_active)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except BackorderPolicyRefused as refused:
            # changeform_view's transaction was rolled back: nothing of the form was saved.
            self.message_user(
                request, f"Nothing was saved: {refused.error.message}", messages.ERROR
            )
            return HttpResponseRedirect(request.get_full_path())

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<path:object_id>/force-status/",
                self.admin_site.admin_view(self.force_status_view),
                name="{}_{}_force_status".format(*info),
            ),
            path(
                "<path:object_id>/clear-status/",
                self.admin_site.admin_view(self.clear_status_view),
                name="{}_{}_clear_status".format(*info),
            ),
            *super().get_urls(),
        ]

    def _variant_or_denied(self, request: HttpRequest, object_id: str) -> Variant | None:
        variant = self.get_object(request, unquote(object_id))
        if variant is not None and not self.has_change_permission(request, variant):
            raise PermissionDenied
        return variant

    def _change_url(self, variant: Variant) -> str:
        return reverse("admin:stock_variant_change", args=[quote(variant.pk)])

    def force_status_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        variant = self._variant_or_denied(request, object_id)
        if variant is None:
            return missing_object_redirect(self, request, object_id)
        form = ForceStatusForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                forced = force_status(
                    variant=variant,
                    status=data["status"],
                    reason=data["reason"],
                    channel=data["channel"],
                    expires_at=data["expires_at"],
                    actor=Actor.for_user(request.user),
                )
            except StockError as error:
                form.add_stock_error(error)
            else:
                self.message_user(
                    request,
                    f"{variant.sku} is {forced.get_status_display().lower()} "
                    f"on {scope_label(forced)}.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(self._change_url(variant))
        return form_page(
            self,
            request,
            template="admin/stock/variant/force_status.html",
            title=f"Force the status of {variant.sku}",
            obj=variant,
            form=form,
            media=self.media + form.media,
            submit_label="Force status",
        )

    def clear_status_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        variant = self._variant_or_denied(request, object_id)
        if variant is None:
            return missing_object_redirect(self, request, object_id)
        open_overrides = list(
            ForcedStatus.objects.filter(variant=variant, ended_at__isnull=True)
            .select_related("channel")
            .order_by("channel__code")
        )
        if not open_overrides:
            self.message_user(request, f"{variant.sku} has no forced status.", messages.INFO)
            return HttpResponseRedirect(self._change_url(variant))
        form = ClearStatusForm(request.POST or None, open_overrides=open_overrides)
        if request.method == "POST" and form.is_valid():
            channel = form.channel
            try:
                ended = clear_forced_status(
                    variant=variant,
                    channel=channel,
                    actor=Actor.for_user(request.user),
                    reason=form.cleaned_data["reason"],
                )
            except StockError as error:
                form.add_stock_error(error)
            else:
                if ended:
                    scope = channel.code if channel else "all channels"
                    self.message_user(
                        request,
                        f"Ended the forced status of {variant.sku} on {scope}.",
                        messages.SUCCESS,
                    )
                else:
                    self.message_user(request, "Someone else ended it already.", messages.WARNING)
                return HttpResponseRedirect(self._change_url(variant))
        return form_page(
            self,
            request,
            template="admin/stock/variant/clear_status.html",
            title=f"End a forced status of {variant.sku}",
            obj=variant,
            form=form,
            submit_label="End the override",
        )

    def _redirect_to_one(self, request: HttpRequest, queryset: QuerySet, url_name: str):
        pks = list(queryset.values_list("pk", flat=True)[:2])
        if len(pks) != 1:
            self.message_user(request, "Select exactly one variant.", messages.WARNING)
            return None
        return HttpResponseRedirect(reverse(url_name, args=[quote(pks[0])]))

    @admin.action(description="Force the status of the selected variant…", permissions=["change"])
    def force_status_selected(self, request: HttpRequest, queryset: QuerySet[Variant]):
        return self._redirect_to_one(request, queryset, "admin:stock_variant_force_status")

    @admin.action(
        description="End a forced status of the selected variant…", permissions=["change"]
    )
    def clear_status_selected(self, request: HttpRequest, queryset: QuerySet[Variant]):
        return self._redirect_to_one(request, queryset, "admin:stock_variant_clear_status")


@admin.register(ForcedStatus)
class ForcedStatusAdmin(ReadOnlyAdmin):
    """Overrides are set and ended from the variant's page, through the status services."""

    list_display = [
        "variant",
        "scope",
        "status",
        "reason",
        "actor_label",
        "created_at",
        "expires_at",
        "ended_at",
        "ended_by",
        "end_reason",
    ]
    list_filter = [OpenForcedStatusListFilter, "status", "channel"]
    list_select_related = ["variant", "channel"]
    search_fields = ["variant__sku", "variant__product__name", "reason", "actor_label"]
    date_hierarchy = "created_at"

    @admin.display(description="scope", ordering="channel__code")
    def scope(self, forced: ForcedStatus) -> str:
        return scope_label(forced)
