"""How the API answers alerts' domain errors (registered in AlertsConfig.ready()).

An AlertError is a StockError, which stock answers 400 unless it knows the code. A refusal
of what was sent (invalid_rule, invalid_receiver, ...) stays 400, its details naming the
field; acknowledging or resolving an alert that has ended conflicts with its state: 409.
"""

from rest_framework import status

from alerts.errors import AlertError
from inventory_hub.api.errors import DomainErrorAnswer, register_domain_error

DOMAIN_STATUS = {
    "alert_not_active": status.HTTP_409_CONFLICT,
}


def alert_error_answer(error: AlertError) -> DomainErrorAnswer:
    code = DOMAIN_STATUS.get(error.code, status.HTTP_400_BAD_REQUEST)
    return DomainErrorAnswer(code, error.code, error.message, error.details)


def register_alert_errors() -> None:
    register_domain_error(AlertError, alert_error_answer)
