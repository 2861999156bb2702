"""DRF's side of alerts.access: the role question, before a view knows the alert.

Which alert a manager may acknowledge, and which silence they may expire, is asked by the
views once they have loaded it.
"""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from alerts.access import may_acknowledge_some, may_configure_alerts, may_read_alerts, may_silence


class AlertConfigurers(BasePermission):
    """Every role reads rules, receivers, routes and steps; only ops staff change them."""

    message = "Only ops staff may change alert rules, receivers, routes and escalation."

    def has_permission(self, request, view) -> bool:
        if not may_read_alerts(request.user):
            return False
        return request.method in SAFE_METHODS or may_configure_alerts(request.user)


class AlertReaders(BasePermission):
    """Every role reads alerts and the delivery log."""

    message = "Your role may not read alerts."

    def has_permission(self, request, view) -> bool:
        return may_read_alerts(request.user)


class Acknowledgers(BasePermission):
    """Ops staff and warehouse managers acknowledge (managers: their warehouses' alerts)."""

    message = "Only ops staff and warehouse managers may acknowledge alerts."

    def has_permission(self, request, view) -> bool:
        return may_acknowledge_some(request.user)


class Resolvers(BasePermission):
    message = "Only ops staff may resolve an alert by hand."

    def has_permission(self, request, view) -> bool:
        return may_configure_alerts(request.user)


class Silencers(BasePermission):
    """Every role reads silences; ops staff and managers create them (and expire: a
    manager their own, asked by the view)."""

    message = "Only ops staff and warehouse managers may silence alerts."

    def has_permission(self, request, view) -> bool:
        if not may_read_alerts(request.user):
            return False
        return request.method in SAFE_METHODS or may_silence(request.user)
