"""The catalogue over HTTP: products and their variants (SKUs).

Neither is ever deleted, because stock history refers to them: DELETE answers 405 and
`POST …/deactivate/` (or `PATCH {"is_active": false}`) retires one. Writes are for ops
staff only (the default permission). A variant's backorder policy changes only through
stock.services.catalogue.set_backorder_policy, which keeps each stock level's copy in step.
"""

from collections import defaultdict

import django_filters
from django import forms
from django.db import IntegrityError
from django.db.models import Count, Q, QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from inventory_hub.api.errors import ApiError
from inventory_hub.api.filters import StableOrderingFilter, StrictBooleanFilter, StrictFilterSet
from inventory_hub.api.idempotency import idempotent
from inventory_hub.api.schema import (
    LIST_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    error_response,
    validated,
)
from inventory_hub.api.serializers import is_storable_text
from stock.api.serializers.catalogue import (
    ProductInput,
    ProductOutput,
    VariantInput,
    VariantOutput,
)
from stock.models import BackorderPolicy, Product, Variant
from stock.services.catalogue import (
    create_product,
    create_variant,
    update_product,
    update_variant,
)

# Updates take no Idempotency-Key: a PUT or PATCH is safe to repeat as it is.
UPDATE_ERRORS = {code: response for code, response in WRITE_ERRORS.items() if code != 422}
PRODUCT_NOT_FOUND = {404: error_response("unknown_product")}
VARIANT_NOT_FOUND = {404: error_response("unknown_sku")}
BACKORDER_REFUSED = {
    409: error_response(
        "insufficient_stock: backorders cannot be denied while a warehouse is below zero "
        "available (details.available_by_warehouse); nothing was changed"
    )
}


# --- Products --------------------------------------------------------------------------------


def _products() -> QuerySet[Product]:
    return Product.objects.annotate(variant_count=Count("variants"))


def _product(pk: int) -> Product:
    try:
        return _products().get(pk=pk)
    except Product.DoesNotExist:
        raise ApiError(
            status_code=status.HTTP_404_NOT_FOUND,
            code="unknown_product",
            message=f"No product has id {pk}.",
            details={"product": pk},
        ) from None


class ProductFilter(StrictFilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains", help_text="Part of the name.")
    is_active = StrictBooleanFilter()
    ordering = StableOrderingFilter(fields=["id", "name", "created_at"])

    class Meta:
        model = Product
        fields = ["name", "is_active"]


class ProductListView(generics.ListAPIView):
    serializer_class = ProductOutput
    filter_backends = [DjangoFilterBackend]
    filterset_class = ProductFilter

    def get_queryset(self) -> QuerySet[Product]:
        return _products().order_by("name", "pk")

    @extend_schema(
        operation_id="products_list",
        summary="List products",
        responses={200: ProductOutput(many=True), **LIST_ERRORS},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="products_create",
        summary="Create a product (a style; what is stocked are its variants)",
        request=ProductInput,
        responses={201: ProductOutput, **WRITE_ERRORS},
    )
    @idempotent
    def post(self, request):
        data = validated(ProductInput, request)
        product = create_product(**data)
        return Response(ProductOutput(_product(product.pk)).data, status=status.HTTP_201_CREATED)


class ProductDetailView(APIView):
    @extend_schema(
        operation_id="products_retrieve",
        summary="Read one product",
        responses={200: ProductOutput, **READ_ERRORS, **PRODUCT_NOT_FOUND},
    )
    def get(self, request, pk: int):
        return Response(ProductOutput(_product(pk)).data)

    @extend_schema(
        operation_id="products_replace",
        summary="Replace a product's details",
        request=ProductInput,
        responses={200: ProductOutput, **UPDATE_ERRORS, **PRODUCT_NOT_FOUND},
    )
    def put(self, request, pk: int):
        return self._update(request, pk, partial=False)

    @extend_schema(
        operation_id="products_update",
        summary="Change some of a product's details; is_active=false deactivates it",
        request=ProductInput,
        responses={200: ProductOutput, **UPDATE_ERRORS, **PRODUCT_NOT_FOUND},
    )
    def patch(self, request, pk: int):
        return self._update(request, pk, partial=True)

    def _update(self, request, pk: int, *, partial: bool) -> Response:
        product = _product(pk)
        update_product(product=product, **validated(ProductInput, request, partial=partial))
        return Response(ProductOutput(_product(pk)).data)


class ProductDeactivateView(APIView):
    @extend_schema(
        operation_id="products_deactivate",
        summary="Deactivate a product (its variants keep their own flag); history stays",
        request=None,
        responses={200: ProductOutput, **UPDATE_ERRORS, **PRODUCT_NOT_FOUND},
    )
    def post(self, request, pk: int):
        update_product(product=_product(pk), is_active=False)
        return Response(ProductOutput(_product(pk)).data)


# --- Variants --------------------------------------------------------------------------------


class AttributeField(forms.Field):
    """Repeatable `name:value` pairs from the query string."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value):
        pairs = []
        for item in value or []:
            name, separator, text = item.partition(":")
            if not separator or not name.strip():
                # The item goes in params: django-filter %-formats every message, and the
                # client's text may hold a % of its own.
                raise forms.ValidationError(
                    "%(item)r: write name:value, such as size:queen.", params={"item": item}
                )
            if not is_storable_text(item):
                raise forms.ValidationError("Null characters are not allowed.")
            pairs.append((name, text))
        return pairs


@extend_schema_field(OpenApiTypes.STR)
class AttributeFilter(django_filters.Filter):
    """Different names must all match; the same name repeated matches any of its values."""

    field_class = AttributeField

    def filter(self, qs, value):
        wanted: dict[str, list[str]] = defaultdict(list)
        for name, text in value or []:
            wanted[name].append(text)
        for name, texts in wanted.items():
            any_of = Q()
            for text in texts:
                any_of |= Q(attributes__contains={name: text})
            qs = qs.filter(any_of)
        return qs


class VariantFilter(StrictFilterSet):
    sku = django_filters.CharFilter(help_text="Exact SKU.")
    product = django_filters.ModelChoiceFilter(
        queryset=Product.objects.all(), help_text="The product's id."
    )
    attribute = AttributeFilter()
    is_active = StrictBooleanFilter()
    manage_stock = StrictBooleanFilter()
    backorders = django_filters.ChoiceFilter(choices=BackorderPolicy.choices)
    ordering = StableOrderingFilter(fields=["sku", "created_at"])

    class Meta:
        model = Variant
        fields = ["sku", "product", "is_active", "manage_stock", "backorders"]


def _variant(sku: str) -> Variant:
    try:
        if not is_storable_text(sku):
            raise Variant.DoesNotExist
        return Variant.objects.select_related("product").get(sku=sku)
    except Variant.DoesNotExist:
        raise ApiError(
            status_code=status.HTTP_404_NOT_FOUND,
            code="unknown_sku",
            message=f"No variant has SKU {sku!r}.",
            details={"sku": sku},
        ) from None


def _identifier_taken(error: IntegrityError) -> serializers.ValidationError:
    """A concurrent write took the SKU or barcode between our check and our write."""
    text = str(error)
    for field in ("barcode", "sku"):
        if field in text:
            return serializers.ValidationError({field: ["Already taken."]})
    raise error


class VariantListView(generics.ListAPIView):
    serializer_class = VariantOutput
    filter_backends = [DjangoFilterBackend]
    filterset_class = VariantFilter

    def get_queryset(self) -> QuerySet[Variant]:
        return Variant.objects.select_related("product").order_by("sku")

    @extend_schema(
        operation_id="variants_list",
        summary="List variants (SKUs), filtered by SKU, product or attributes",
        parameters=[
            OpenApiParameter(
                "attribute",
                # name:value, the name not blank, no NUL (AttributeField's check).
                {
                    "type": "array",
                    "items": {
                        "type": "string",
                        "pattern": r"^[^:\x00]*[^:\s\x00][^:\x00]*:[^\x00]*$",
                    },
                },
                description="name:value, such as size:queen. Repeat it: different names must "
                "all match, the same name repeated matches any of its values.",
            )
        ],
        responses={200: VariantOutput(many=True), **LIST_ERRORS},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="variants_create",
        summary="Create a variant (a SKU) of a product",
        request=VariantInput,
        responses={201: VariantOutput, **WRITE_ERRORS},
    )
    @idempotent
    def post(self, request):
        data = validated(VariantInput, request)
        try:
            variant = create_variant(**data)
        except IntegrityError as error:
            raise _identifier_taken(error) from error
        return Response(VariantOutput(variant).data, status=status.HTTP_201_CREATED)


class VariantDetailView(APIView):
    @extend_schema(
        operation_id="variants_retrieve",
        summary="Read one variant by its SKU",
        responses={200: VariantOutput, **READ_ERRORS, **VARIANT_NOT_FOUND},
    )
    def get(self, request, sku: str):
        return Response(VariantOutput(_variant(sku)).data)

    @extend_schema(
        operation_id="variants_replace",
        summary="Replace a variant's details, the SKU repeated unchanged",
        request=VariantInput,
        responses={200: VariantOutput, **UPDATE_ERRORS, **VARIANT_NOT_FOUND, **BACKORDER_REFUSED},
    )
    def put(self, request, sku: str):
        return self._update(request, sku, partial=False)

    @extend_schema(
        operation_id="variants_update",
        summary="Change some of a variant's details; is_active=false deactivates it",
        request=VariantInput,
        responses={200: VariantOutput, **UPDATE_ERRORS, **VARIANT_NOT_FOUND, **BACKORDER_REFUSED},
    )
    def patch(self, request, sku: str):
        return self._update(request, sku, partial=True)

    def _update(self, request, sku: str, *, partial: bool) -> Response:
        variant = _variant(sku)
        data = validated(VariantInput, request, instance=variant, partial=partial)
        data.pop("sku", None)
        try:
            update_variant(variant=variant, **data)
        except IntegrityError as error:
            raise _identifier_taken(error) from error
        return Response(VariantOutput(_variant(sku)).data)


class VariantDeactivateView(APIView):
    @extend_schema(
        operation_id="variants_deactivate",
        summary="Deactivate a variant: storefront availability stops listing it; history stays",
        request=None,
        responses={200: VariantOutput, **UPDATE_ERRORS, **VARIANT_NOT_FOUND},
    )
    def post(self, request, sku: str):
        update_variant(variant=_variant(sku), is_active=False)
        return Response(VariantOutput(_variant(sku)).data)
