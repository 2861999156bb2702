from rest_framework.permissions import SAFE_METHODS, BasePermission

from warehouses.access import Role, role_of


class ReadAnyRoleWriteOps(BasePermission):
    """The default: any role reads; only ops staff write (scoped writes override this)."""

    message = "Only ops staff may change this."

    def has_permission(self, request, view) -> bool:
        role = role_of(request.user)
        if role is None:
            return False
        return request.method in SAFE_METHODS or role == Role.OPS_STAFF


class StockWriters(BasePermission):
    """Roles that may change stock somewhere; the view then checks the warehouse scope."""

    message = "Your role may not change stock."
    roles = frozenset({Role.OPS_STAFF, Role.WAREHOUSE_MANAGER, Role.INTEGRATION})

    def has_permission(self, request, view) -> bool:
        role = role_of(request.user)
        if role is None:
            return False
        return request.method in SAFE_METHODS or role in self.roles


class OrderWriters(StockWriters):
    """Ops and integrations place orders; managers may ship from their warehouses."""

    message = "Your role may not change orders."
