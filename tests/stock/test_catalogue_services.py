"""Catalogue services: products and variants change all or nothing, only as told."""

import pytest
from django.db import IntegrityError

from stock.errors import InsufficientStock
from stock.models import BackorderPolicy, Product, StockLevel, Variant
from stock.services.catalogue import (
    create_product,
    create_variant,
    update_product,
    update_variant,
)
from tests.stock.factories import ProductFactory, VariantFactory, ledger_ids, reserved, stocked
from tests.warehouses.factories import WarehouseFactory

pytestmark = pytest.mark.django_db


def _row(variant: Variant) -> dict:
    return Variant.objects.filter(pk=variant.pk).values().get()


def test_create_product_and_variant_store_what_they_are_given():
    product = create_product(name="Percale sheet", description="Cool to the touch")

    variant = create_variant(
        product=product, sku="SH-Q", attributes={"size": "queen"}, backorders="allow"
    )

    assert Product.objects.filter(pk=product.pk).values("name", "description").get() == {
        "name": "Percale sheet",
        "description": "Cool to the touch",
    }
    stored = _row(variant)
    assert (stored["product_id"], stored["sku"], stored["attributes"], stored["backorders"]) == (
        product.pk,
        "SH-Q",
        {"size": "queen"},
        "allow",
    )


def test_create_variant_with_a_taken_sku_raises_and_writes_nothing():
    VariantFactory(sku="SH-Q")
    product = ProductFactory()

    with pytest.raises(IntegrityError):
        create_variant(product=product, sku="SH-Q")

    assert Variant.objects.count() == 1


def test_update_product_writes_only_the_fields_given():
    product = ProductFactory(name="Sheet", description="Old")
    # Another writer renamed it meanwhile; our change of the description must not undo it.
    Product.objects.filter(pk=product.pk).update(name="Renamed elsewhere")

    update_product(product=product, description="New")

    assert Product.objects.filter(pk=product.pk).values("name", "description").get() == {
        "name": "Renamed elsewhere",
        "description": "New",
    }


def test_update_variant_writes_only_the_fields_given():
    variant = VariantFactory(sku="SH-Q", low_stock_threshold=5, barcode="")
    Variant.objects.filter(pk=variant.pk).update(barcode="written-elsewhere")

    update_variant(variant=variant, low_stock_threshold=9)

    stored = _row(variant)
    assert (stored["low_stock_threshold"], stored["barcode"]) == (9, "written-elsewhere")


def test_product_update_with_an_unknown_field_is_refused_and_writes_nothing():
    product = ProductFactory(name="Sheet")

    with pytest.raises(TypeError, match="sku"):
        update_product(product=product, name="Renamed", sku="NEW")

    assert Product.objects.get(pk=product.pk).name == "Sheet"


def test_variant_update_with_an_unknown_field_is_refused_and_writes_nothing():
    variant = VariantFactory(sku="SH-Q", low_stock_threshold=5)

    with pytest.raises(TypeError, match="sku"):
        update_variant(variant=variant, low_stock_threshold=9, sku="NEW")

    assert _row(variant)["low_stock_threshold"] == 5


def test_refused_backorder_policy_leaves_the_other_changes_unwritten():
    variant = VariantFactory(sku="SH-Q", backorders=BackorderPolicy.ALLOW, low_stock_threshold=5)
    reserved(variant, WarehouseFactory(code="AUS"), 2)
    ledger_before = ledger_ids()

    with pytest.raises(InsufficientStock):
        update_variant(variant=variant, backorders=BackorderPolicy.DENY, low_stock_threshold=9)

    stored = _row(variant)
    assert (stored["backorders"], stored["low_stock_threshold"]) == ("allow", 5)
    assert list(StockLevel.objects.values_list("is_backorder_allowed", flat=True)) == [True]
    assert ledger_ids() == ledger_before


def test_taken_barcode_leaves_the_new_backorder_policy_unwritten():
    VariantFactory(sku="OTHER", barcode="111")
    variant = VariantFactory(sku="SH-Q", backorders=BackorderPolicy.DENY)
    stocked(variant, WarehouseFactory(code="BAL"), 3)

    with pytest.raises(IntegrityError):
        update_variant(variant=variant, backorders=BackorderPolicy.ALLOW, barcode="111")

    assert _row(variant)["backorders"] == "deny"
    assert list(StockLevel.objects.values_list("is_backorder_allowed", flat=True)) == [False]
