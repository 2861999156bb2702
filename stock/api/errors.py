"""How the API answers stock's domain errors (registered in StockConfig.ready())."""

from rest_framework import status

from inventory_hub.api.errors import DomainErrorAnswer, register_domain_error
from stock.errors import StockError
from stock.services import BatchRejected

# HTTP status per domain error code; anything else a StockError says is a 400.
DOMAIN_STATUS = {
    "insufficient_stock": status.HTTP_409_CONFLICT,
    "conflict_expected_on_hand": status.HTTP_409_CONFLICT,
    "hold_expired": status.HTTP_409_CONFLICT,
    "invalid_order_state": status.HTTP_409_CONFLICT,
    "inactive_warehouse": status.HTTP_409_CONFLICT,
    "stock_not_managed": status.HTTP_409_CONFLICT,
    "batch_rejected": status.HTTP_409_CONFLICT,
}


def status_of(error: StockError) -> int:
    return DOMAIN_STATUS.get(error.code, status.HTTP_400_BAD_REQUEST)


def stock_error_answer(error: StockError) -> DomainErrorAnswer:
    return DomainErrorAnswer(status_of(error), error.code, error.message, error.details)


def batch_rejected_answer(error: BatchRejected) -> DomainErrorAnswer:
    """Each refused change of the batch, by its index in the batch."""
    details = {
        "errors": [
            {"index": index, "code": refused.code, "message": refused.message, **refused.details}
            for index, refused in error.errors
        ]
    }
    return DomainErrorAnswer(status_of(error), error.code, error.message, details)


def register_stock_errors() -> None:
    register_domain_error(StockError, stock_error_answer)
    register_domain_error(BatchRejected, batch_rejected_answer)
