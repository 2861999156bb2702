"""The API's permission classes: DRF's side of the role policy in warehouses.access.

Each class only asks the policy; the scope checks (which warehouse, which channel) are in
warehouses.api.scopes, asked by the views once they know what is changed.
"""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from warehouses.access import Capability, role_may, role_of


class ReadAnyRoleWriteOps(BasePermission):
    """The default: any role reads; only ops staff write (scoped writes override this)."""

    message = "Only ops staff may change this."
    capability = Capability.CHANGE_ANYTHING

    def has_permission(self, request, view) -> bool:
        role = role_of(request.user)
        if not role_may(role, Capability.READ):
            return False
        return request.method in SAFE_METHODS or role_may(role, self.capability)


class StockWriters(ReadAnyRoleWriteOps):
    """Roles that may change stock somewhere; the view then checks the warehouse scope."""

    message = "Your role may not change stock."
    capability = Capability.CHANGE_STOCK


class OrderWriters(ReadAnyRoleWriteOps):
    """Ops and integrations place orders; managers may ship from their warehouses."""

    message = "Your role may not change orders."
    capability = Capability.CHANGE_ORDERS
