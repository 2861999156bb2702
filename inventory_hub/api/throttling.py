from rest_framework.throttling import AnonRateThrottle, UserRateThrottle


class TokenRateThrottle(UserRateThrottle):
    """Per authenticated client (token or session user); rate from API_THROTTLE_RATE."""

    scope = "token"


class AnonymousRateThrottle(AnonRateThrottle):
    """Per IP for the public endpoints (storefront availability)."""

    scope = "anonymous"
