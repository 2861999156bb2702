"""Authentication backends: failed logins throttled per username and address (django-axes)."""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.http import HttpRequest


class LoginThrottleBackend(AxesStandaloneBackend):
    """django-axes' lockout check for logins that come with a request.

    Every login over HTTP (the admin's and the dashboard's form) passes its request; only
    code in the process itself (the shell, `Client.login` in tests) authenticates without
    one, and there is no address to throttle then, so it is let through to the next backend
    instead of failing.
    """

    def authenticate(self, request: HttpRequest | None, *args: Any, **kwargs: Any) -> None:
        if request is None:
            return None
        return super().authenticate(request, *args, **kwargs)
