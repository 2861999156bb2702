"""DRF's side of transfers.access: the role question, before a view knows the transfer.

Which end of which transfer a user may act at is asked by the views (`may_act`), once
they have loaded it.
"""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from transfers.access import may_manage_lanes, may_read_transfers
from warehouses.access import Capability, may


class LaneManagers(BasePermission):
    """Every role reads lanes; only ops staff set them up."""

    message = "Only ops staff may change lanes."

    def has_permission(self, request, view) -> bool:
        if not may_read_transfers(request.user):
            return False
        return request.method in SAFE_METHODS or may_manage_lanes(request.user)


class TransferActors(BasePermission):
    """Every role reads transfers; roles that change stock act on them, at their end."""

    message = "Your role may not change transfers."

    def has_permission(self, request, view) -> bool:
        if not may_read_transfers(request.user):
            return False
        return request.method in SAFE_METHODS or may(request.user, Capability.CHANGE_STOCK)
