"""Answer 503 with Retry-After, not a 500, when a view is caught by a database outage."""

import logging

from django.http import HttpRequest, HttpResponse

from inventory_hub.api.errors import database_unavailable, is_database_outage

logger = logging.getLogger(__name__)


class DatabaseOutageMiddleware:
    """Turns a lost or refused database connection in a view into a 503 the client retries.

    Errors raised outside views reach handler500 (`errors.server_error`), which answers
    the same; this covers views under DEBUG too, where Django renders its own 500 page.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_database_outage(exception):
            return None
        logger.warning(
            "Database unavailable during %s %s: %s: %s",
            request.method,
            request.path,
            type(exception).__name__,
            exception,
        )
        return database_unavailable(request)
