"""Transfers through the API at the same moment, on real PostgreSQL: one transfer per
reference, one number per hub-numbered transfer, one set of movements per transition."""

from functools import partial

import pytest
from rest_framework.test import APIClient

from tests.stock.factories import SYSTEM, VariantFactory, run_at_once, stocked
from tests.transfers.factories import draft, transfer_movements
from tests.warehouses.factories import WarehouseFactory
from transfers.models import Transfer
from transfers.services import approve_transfer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

TRANSFERS = "/api/v1/transfers/"
WORKERS = 8


@pytest.fixture
def sheet():
    north = WarehouseFactory(code="NORTH")
    WarehouseFactory(code="SOUTH")
    variant = VariantFactory(sku="SHEET")
    stocked(variant, north, 10)
    return variant


def post(client: APIClient, path: str, body: dict, key: str):
    return client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def new_transfer(**fields) -> dict:
    lines = [{"sku": "SHEET", "quantity": 1}]
    return {"source": "NORTH", "destination": "SOUTH", "lines": lines, **fields}


def test_one_reference_posted_at_once_with_different_keys_is_one_transfer(
    ops_client, sheet, verify_ledger_clean
):
    jobs = [
        partial(post, ops_client, TRANSFERS, new_transfer(reference="R-1"), f"k-{number}")
        for number in range(WORKERS)
    ]

    attempts = run_at_once(jobs, workers=WORKERS)

    assert [attempt.error for attempt in attempts] == [None] * WORKERS
    codes = sorted(attempt.result.status_code for attempt in attempts)
    assert codes == [200] * (WORKERS - 1) + [201]
    assert {attempt.result.json()["id"] for attempt in attempts} == {Transfer.objects.get().pk}


def test_transfers_the_hub_numbers_at_once_get_a_number_each(ops_client, sheet):
    jobs = [
        partial(post, ops_client, TRANSFERS, new_transfer(), f"k-{number}")
        for number in range(WORKERS)
    ]

    attempts = run_at_once(jobs, workers=WORKERS)

    assert [attempt.result.status_code for attempt in attempts] == [201] * WORKERS
    references = {attempt.result.json()["reference"] for attempt in attempts}
    assert len(references) == WORKERS
    assert Transfer.objects.count() == WORKERS


def test_a_transition_sent_ten_times_at_once_with_one_key_moves_stock_once(
    ops_client, sheet, verify_ledger_clean
):
    north, south = WarehouseFactory(code="NORTH"), WarehouseFactory(code="SOUTH")
    transfer = draft(north, south, (sheet, 4))
    approve_transfer(transfer=transfer, actor=SYSTEM)
    jobs = [partial(post, ops_client, f"{TRANSFERS}{transfer.pk}/ship/", {}, "ship-1")] * 10

    attempts = run_at_once(jobs, workers=WORKERS)

    assert [attempt.result.status_code for attempt in attempts] == [200] * 10
    assert sum(attempt.result.get("Idempotent-Replayed") == "true" for attempt in attempts) == 9
    assert [movement.kind for movement in transfer_movements(transfer)] == [
        "reserve",
        "transfer_out",
        "transfer_in",
    ]
    verify_ledger_clean()
