"""The request of a page served through django-htmx's middleware, for annotations."""

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    """An HttpRequest as HtmxMiddleware (settings.MIDDLEWARE) leaves it: with `htmx`.

    Only a type: views are annotated with it, no instance is ever made of it.
    """

    htmx: HtmxDetails
