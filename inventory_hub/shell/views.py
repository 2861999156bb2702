"""Sign-in and the guard every dashboard page goes through."""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth import views as auth_views
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from inventory_hub.shell.roles import dashboard_role

# The dashboard's home is the site's root (the overview).
HOME = "/"


def dashboard_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Log-in required; 403 for users whose role has no dashboard (integrations, no role).

    The role the user acts with is left on the request as `dashboard_role` (the header
    shows it)."""

    @wraps(view)
    def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("shell:login"))
        role = dashboard_role(request.user)
        if role is None:
            return render(request, "shell/forbidden.html", status=403)
        request.dashboard_role = role  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return guarded


login = auth_views.LoginView.as_view(
    template_name="shell/login.html", redirect_authenticated_user=True, next_page=HOME
)
logout = auth_views.LogoutView.as_view(next_page="shell:login")
