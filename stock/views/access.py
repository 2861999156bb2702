"""Who may open the live pages and who may change what from them (warehouses.access roles)."""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from warehouses.access import Role, role_of, writable_warehouse_ids

# Integrations are programs: they use the API, never the pages.
DASHBOARD_ROLES = frozenset({Role.OPS_STAFF, Role.WAREHOUSE_MANAGER, Role.VIEWER})


def may_view_dashboard(user: AbstractBaseUser | AnonymousUser) -> bool:
    return role_of(user) in DASHBOARD_ROLES


def may_force_status(user: AbstractBaseUser) -> bool:
    """A forced status applies to whole channels, beyond any one warehouse: ops staff only."""
    return role_of(user) == Role.OPS_STAFF


def may_change_stock_somewhere(user: AbstractBaseUser) -> bool:
    role = role_of(user)
    if role == Role.OPS_STAFF:
        return True
    return role == Role.WAREHOUSE_MANAGER and bool(writable_warehouse_ids(user))


def dashboard_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Log-in required; 403 for users whose role has no dashboard (integrations, no role)."""

    @wraps(view)
    def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("dashboard:login"))
        role = role_of(request.user)
        if role not in DASHBOARD_ROLES:
            return render(request, "stock/forbidden.html", status=403)
        request.dashboard_role = role
        return view(request, *args, **kwargs)

    return guarded
