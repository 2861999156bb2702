"""How the API answers transfers' domain errors (registered in TransfersConfig.ready()).

A TransferError is a StockError, which stock answers 400 unless it knows the code; the
codes that are conflicts with the transfer's current state are 409 here, as stock answers
`invalid_order_state` and `insufficient_stock`.
"""

from rest_framework import status

from inventory_hub.api.errors import DomainErrorAnswer, register_domain_error
from transfers.errors import TransferError

DOMAIN_STATUS = {
    "invalid_transfer_state": status.HTTP_409_CONFLICT,
    "over_receipt": status.HTTP_409_CONFLICT,
}


def transfer_error_answer(error: TransferError) -> DomainErrorAnswer:
    code = DOMAIN_STATUS.get(error.code, status.HTTP_400_BAD_REQUEST)
    return DomainErrorAnswer(code, error.code, error.message, error.details)


def register_transfer_errors() -> None:
    register_domain_error(TransferError, transfer_error_answer)
