"""Catalogue edits in the admin drop the storefront's cached answers, as the API's do.

Each test first caches an answer, then receives stock without running that receipt's
on-commit reaction: the cache alone still says the old figure, so a fresh figure after the
admin change proves that change dropped the entry (the pattern of
test_availability_invalidation.py, through the admin instead of the service).
"""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from stock.models import Product, Variant
from tests.stock.cached_answers.conftest import answer
from tests.stock.factories import VariantFactory
from tests.warehouses.test_admin import change_form_data

pytestmark = pytest.mark.django_db


def test_changing_a_variant_threshold_in_admin_drops_its_cached_answer(
    admin_client, channel, sheet, stale, django_capture_on_commit_callbacks
):
    url = reverse("admin:stock_variant_change", args=[sheet.pk])
    data = change_form_data(admin_client.get(url))
    data["low_stock_threshold"] = 20

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, data)

    assert response.status_code == 302
    found = answer(channel)
    assert (found.salable_quantity, found.status) == (12, "only_n_left")


def test_unticking_manage_stock_in_admin_drops_the_cached_answer(
    admin_client, channel, sheet, stale, django_capture_on_commit_callbacks
):
    url = reverse("admin:stock_variant_change", args=[sheet.pk])
    data = change_form_data(admin_client.get(url))
    data.pop("manage_stock")

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, data)

    assert response.status_code == 302
    found = answer(channel)
    assert (found.salable_quantity, found.status) == (None, "in_stock")


def test_deactivating_a_variant_in_admin_drops_its_cached_answer(
    admin_client, channel, sheet, stale, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:stock_variant_changelist"),
            {"action": "deactivate", ACTION_CHECKBOX_NAME: [sheet.pk]},
        )
    # Back on sale by a write that drops nothing: only the deactivation can have dropped it.
    Variant.objects.filter(pk=sheet.pk).update(is_active=True)

    assert response.status_code == 302
    assert answer(channel).salable_quantity == 12


def test_product_actions_in_admin_change_only_the_selected_products(admin_client, sheet):
    other = VariantFactory(sku="OTHER").product

    admin_client.post(
        reverse("admin:stock_product_changelist"),
        {"action": "deactivate", ACTION_CHECKBOX_NAME: [sheet.product_id]},
    )

    assert dict(Product.objects.values_list("pk", "is_active")) == {
        sheet.product_id: False,
        other.pk: True,
    }
