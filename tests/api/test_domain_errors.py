"""Domain errors reach the API's one error shape through a registry: the kit names no app."""

from rest_framework import status

from inventory_hub.api import errors
from inventory_hub.api.errors import DomainErrorAnswer, exception_handler, register_domain_error
from inventory_hub.api.serializers import DEFAULT_INTEGER_BOUND
from stock.errors import InsufficientStock, StockError, UnknownSku
from stock.services import BatchRejected
from stock.services.ledger import MAX_QUANTITY


class TeapotError(Exception):
    pass


class SmallTeapotError(TeapotError):
    pass


def test_a_registered_error_and_its_subclasses_are_answered_in_the_error_shape(monkeypatch):
    monkeypatch.setattr(errors, "_domain_errors", dict(errors._domain_errors))
    register_domain_error(
        TeapotError,
        lambda error: DomainErrorAnswer(418, "teapot", str(error), {"size": "any"}),
    )

    response = exception_handler(SmallTeapotError("Short and stout."), {})

    assert response.status_code == 418
    assert response.data == {
        "error": {"code": "teapot", "message": "Short and stout.", "details": {"size": "any"}}
    }


def test_an_unregistered_error_is_left_to_django():
    assert exception_handler(TeapotError("nobody answers"), {}) is None


def test_stock_registers_its_errors_with_their_status():
    conflict = exception_handler(InsufficientStock("Not enough.", {"available": 1}), {})
    refused = exception_handler(UnknownSku("No such SKU."), {})

    assert (conflict.status_code, conflict.data["error"]["code"]) == (
        status.HTTP_409_CONFLICT,
        "insufficient_stock",
    )
    assert conflict.data["error"]["details"] == {"available": 1}
    assert (refused.status_code, refused.data["error"]["code"]) == (400, "unknown_sku")


def test_a_rejected_batch_lists_each_refused_change_by_index():
    rejected = BatchRejected("Some were refused.", errors=[(2, StockError("Nope.", {"f": 1}))])

    response = exception_handler(rejected, {})

    assert response.status_code == status.HTTP_409_CONFLICT
    assert response.data["error"]["details"] == {
        "errors": [{"index": 2, "code": "stock_error", "message": "Nope.", "f": 1}]
    }


def test_the_kits_default_integer_bound_is_the_largest_quantity_stock_handles():
    assert DEFAULT_INTEGER_BOUND == MAX_QUANTITY
